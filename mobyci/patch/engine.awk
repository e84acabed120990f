function rw(r, s, rec,    res, rest, p, q, j, bl, bj, t, k, kl, c) {
	res = ""
	rest = s
	while (rest != "") {
		p = 0
		for (j = 1; j <= nrep[r]; j++) {
			q = index(rest, src[r, j])
			if (q > 0 && (p == 0 || q < p)) p = q
			if (tgt[r, j] != "") {
				q = index(rest, tgt[r, j])
				if (q > 0 && (p == 0 || q < p)) p = q
			}
		}
		if (p == 0) break
		bl = 0
		for (j = 1; j <= nrep[r]; j++) {
			t = tgt[r, j]
			if (t != "" && length(t) > bl && substr(rest, p, length(t)) == t) bl = length(t)
		}
		if (bl > 0) {
			res = res substr(rest, 1, p - 1 + bl)
			rest = substr(rest, p + bl)
			if (rec) seen[r]++
			continue
		}
		bj = 0
		bl = 0
		for (j = 1; j <= nrep[r]; j++) {
			k = src[r, j]
			kl = length(k)
			if (exa[r, j] && kl > bl && substr(rest, p, kl) == k) {
				c = substr(rest, p + kl, 1)
				if (c == "" || index(PATHCH, c) == 0) {
					bj = j
					bl = kl
				}
			}
		}
		if (bj == 0) {
			for (j = 1; j <= nrep[r]; j++) {
				k = src[r, j]
				kl = length(k)
				if (!exa[r, j] && kl > bl && substr(rest, p, kl) == k) {
					bj = j
					bl = kl
				}
			}
		}
		if (bj > 0) {
			res = res substr(rest, 1, p - 1) tgt[r, bj]
			rest = substr(rest, p + bl)
			if (rec) hit[r, bj]++
			continue
		}
		res = res substr(rest, 1, p)
		rest = substr(rest, p + 1)
	}
	return res rest
}
function rl(r, l, rec) {
	if (substr(l, 1, length(src[r, 1])) != src[r, 1]) return l
	if (l == tgt[r, 1]) {
		if (rec) seen[r]++
		return l
	}
	if (rec) hit[r, 1]++
	return tgt[r, 1]
}
function fromline(l,    f, nf) {
	fstg = ""
	fimg = ""
	sub(/^[ \t]+/, "", l)
	sub(/[ \t]+$/, "", l)
	nf = split(l, f, /[ \t]+/)
	if (toupper(f[1]) != "FROM") return 0
	if (nf >= 4 && toupper(f[nf - 1]) == "AS") fstg = tolower(f[nf])
	if (nf == 2 || (nf == 4 && toupper(f[3]) == "AS")) fimg = f[2]
	return fstg != "" || fimg != ""
}
function anchor(r) {
	if (kind[r] != "insert") return 0
	if (img[r] != "") return fimg == img[r]
	return fstg == stg[r]
}
function transform(inn, n, out, rec,    i, l, r, a, j, ok, o, blk, nm, failed, isfrom) {
	failed = 0
	for (a = 1; a <= nact; a++) {
		r = act[a]
		present[r] = 0
		anc[r] = 0
	}
	split("", blk)
	i = 1
	while (i <= n) {
		l = inn[i]
		if (substr(l, 1, 9) == "# mobyci:") {
			nm = substr(l, 10)
			if (!(nm in byid)) {
				failed = 1
				if (rec) err[++nerr] = rel ":" i ": \047" l "\047 was not written by this spec: the tree was patched with a different spec; start from a clean checkout"
				i++
				continue
			}
			r = byid[nm]
			ok = (i + nbody[r] <= n)
			for (j = 1; ok && j <= nbody[r]; j++) if (inn[i + j] != body[r, j]) ok = 0
			if (!ok) {
				failed = 1
				if (rec) err[++nerr] = rel ":" i ": the block under \047" l "\047 differs from this spec: the tree was patched with a different spec; start from a clean checkout"
				i++
				continue
			}
			present[r] = 1
			for (j = 0; j <= nbody[r]; j++) blk[i + j] = 1
			i += nbody[r] + 1
			continue
		}
		if (fromline(l)) {
			for (a = 1; a <= nact; a++) {
				r = act[a]
				if (anchor(r)) anc[r]++
			}
		}
		i++
	}
	if (failed) return -1
	if (rec) {
		for (a = 1; a <= nact; a++) {
			r = act[a]
			if (kind[r] != "insert") continue
			if (present[r]) state[r] = "applied"
			else if (anc[r] == 0) state[r] = "missing"
			else if (anc[r] > 1) state[r] = "ambiguous"
			else state[r] = "inserted"
		}
	}
	o = 0
	for (i = 1; i <= n; i++) {
		l = inn[i]
		if (i in blk) {
			out[++o] = l
			continue
		}
		isfrom = fromline(l)
		for (a = 1; a <= nact; a++) {
			r = act[a]
			if (kind[r] == "rewrite") l = rw(r, l, rec)
			else if (kind[r] == "line") l = rl(r, l, rec)
		}
		out[++o] = l
		if (!isfrom) continue
		for (a = 1; a <= nact; a++) {
			r = act[a]
			if (anchor(r) && !present[r] && anc[r] == 1) {
				out[++o] = "# mobyci:" id[r]
				for (j = 1; j <= nbody[r]; j++) out[++o] = body[r, j]
			}
		}
	}
	return o
}
function row(r, status) {
	printf "ROW   %-18s %-44s %s\n", id[r], rel, status
}
{ line[++nline] = $0 "" }
END {
	PATHCH = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~/-"
	rel = ENVIRON["MOBYCI_REL"] ""
	chk = ENVIRON["MOBYCI_CHECK"] + 0
	nact = split(ENVIRON["MOBYCI_RULES"], act, " ")
	for (a = 1; a <= nact; a++) {
		r = act[a]
		p = "MOBYCI_R" r "_"
		id[r] = ENVIRON[p "ID"] ""
		kind[r] = ENVIRON[p "KIND"] ""
		if (kind[r] != "insert") {
			nrep[r] = ENVIRON[p "N"] + 0
			for (j = 1; j <= nrep[r]; j++) {
				src[r, j] = ENVIRON[p "S" j] ""
				tgt[r, j] = ENVIRON[p "T" j] ""
				exa[r, j] = ENVIRON[p "X" j] + 0
				hit[r, j] = 0
			}
			seen[r] = 0
		} else {
			stg[r] = ENVIRON[p "STAGE"] ""
			img[r] = ENVIRON[p "IMAGE"] ""
			nbody[r] = ENVIRON[p "N"] + 0
			for (j = 1; j <= nbody[r]; j++) body[r, j] = ENVIRON[p "L" j] ""
			byid[id[r]] = r
		}
	}
	nerr = 0
	o = transform(line, nline, out, 1)
	for (a = 1; a <= nact; a++) ancn[act[a]] = anc[act[a]]
	if (nerr == 0) {
		o2 = transform(out, o, again, 0)
		same = (o2 == o)
		for (i = 1; same && i <= o; i++) if (again[i] != out[i]) same = 0
		if (!same) {
			d = o + 1
			if (o2 >= 0) {
				m = (o2 > o) ? o2 : o
				for (i = 1; i <= m; i++) {
					if (!(i <= o && i <= o2 && again[i] == out[i])) {
						d = i
						break
					}
				}
			}
			err[++nerr] = rel ":" d ": a second run would change this line again (a mirror target holds a text the rules replace): fix the mirrors in the spec"
		}
	}
	if (nerr > 0) {
		for (i = 1; i <= nerr; i++) print "ERR " err[i]
		exit 0
	}
	for (a = 1; a <= nact; a++) {
		r = act[a]
		if (kind[r] != "insert") {
			h = 0
			for (j = 1; j <= nrep[r]; j++) {
				h += hit[r, j]
				if (hit[r, j] > 0) print "HIT", r, j, hit[r, j]
			}
			if (seen[r] > 0) print "SEEN", r, seen[r]
			if (h > 0) row(r, h " replacement" (h == 1 ? "" : "s") (chk ? " to make" : ""))
			else if (seen[r] > 0) row(r, "already applied")
		} else {
			st = state[r]
			print "INS", r, st, ancn[r]
			if (st == "inserted") row(r, chk ? "to insert" : "inserted")
			else if (st == "applied") row(r, "already applied")
		}
	}
	changed = (o != nline)
	for (i = 1; !changed && i <= o; i++) if (out[i] != line[i]) changed = 1
	if (changed && !chk) {
		dest = ENVIRON["MOBYCI_OUT"] ""
		for (i = 1; i <= o; i++) print out[i] > dest
		close(dest)
	}
	print "CHANGED", changed
}
