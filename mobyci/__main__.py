from mobyci.cli import main

main()
