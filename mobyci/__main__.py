from mobyci.fastpath import main

main()
