#!/usr/bin/env python3
"""Estimates what parsing only the parts of a file that can matter would save.

    python3 bench/partial_parse_estimate.py DIR

For every .py file with `async` in it: its top-level statements (Python's `ast`), keeping
module-level statements, every `def`/`class` whose text contains `async` or `await`, and,
to a fixed point, every top-level definition whose name appears as a word in what is kept.
Prints the bytes of the files with `async` and the bytes kept. The unit is a top-level
statement (a class is kept whole), as with tree-sitter included ranges on whole lines.
"""
import ast
import os
import re
import sys

root = sys.argv[1]
tot=0; kept=0; files=0; async_files=0; async_bytes=0
tok=re.compile(rb'[A-Za-z_][A-Za-z0-9_]*')
for dp,dn,fn in os.walk(root):
    for f in fn:
        if not f.endswith('.py'): continue
        b=open(os.path.join(dp,f),'rb').read()
        tot+=len(b); files+=1
        if b'async' not in b: continue
        async_files+=1; async_bytes+=len(b)
        try: t=ast.parse(b)
        except Exception: kept+=len(b); continue
        lines=b.split(b'\n'); offs=[0]
        for l in lines: offs.append(offs[-1]+len(l)+1)
        segs=[]
        for i,st in enumerate(t.body):
            s=(st.decorator_list[0].lineno if getattr(st,'decorator_list',None) else st.lineno)-1
            e=st.end_lineno
            text=b[offs[s]:offs[e]]
            isdef=isinstance(st,(ast.FunctionDef,ast.AsyncFunctionDef,ast.ClassDef))
            segs.append((st.name if isdef else None, text))
        keep=[n is None or b'async' in t_ or b'await' in t_ for n,t_ in segs]
        changed=True
        while changed:
            changed=False
            names=set()
            for k,(n,t_) in zip(keep,segs):
                if k: names.update(tok.findall(t_))
            for i,(n,t_) in enumerate(segs):
                if not keep[i] and n.encode() in names: keep[i]=True; changed=True
        kept+=sum(len(t_) for k,(n,t_) in zip(keep,segs) if k)
print(f"{root}: {files} files, {tot/1e6:.1f} MB; {async_files} with async, {async_bytes/1e6:.1f} MB; kept {kept/1e6:.1f} MB")
