#!/usr/bin/env python3
"""Differential test of the cache's edit paths: random edits to Python files of a corpus;
after each, a cached run must print exactly what a --no-cache run of the edited tree
prints. Not part of CI (it needs a corpus and takes minutes).

    bench/edit_differential.py --loopguard target/release/loopguard \
        --corpus bench/corpora/ha [--files LIST] [--edits 40] [--seed 1] [--kinds a,b]

Edit kinds (each applied to a random file, then undone):
  open, len          `open("/dev/null").close()` / `_ = len([])` as the first statement of
                     a random function (sync or async)
  sync_open, sync_len  the same before the last statement of a random sync function
  module_stmt        `_LG_PROBE = len([])` before a random top-level statement
  remove_fn          a random top-level sync function removed (decorators included)
  append_open        a new function calling `open` appended
  append_call        a new function calling an existing top-level function appended
  helper             a new function calling `open` appended, and called as the first
                     statement of a random async function of the file (the file defines
                     more than before: the other files keep their resolutions)
  repeat_call        a call of a callee the file already calls (`_LOGGER.debug`,
                     `self._thread.join`), with other arguments (none, `0`, a string,
                     `timeout=0`, `False`), as the first statement of a random function:
                     a callee that reached nothing is a shift, unless its arguments decide
  library_call       `open("/dev/null")`, `time.sleep(0)` or `subprocess.run(["true"])` as
                     the first statement of a random function (a library call the catalog
                     lists: in an async function that awaits, the run makes its findings
                     itself)
  repeat_await       `await <callee>()` of a callee the file already awaits, as the first
                     statement of a random async function (an async function of the
                     project called again changes no finding)
  repeat_stmt        a one-line call statement of the file (`self._update()`,
                     `helper(x)`), copied as it is to the start of a random async function:
                     a call of a project function the file already makes, in an async
                     function that awaits, whose findings the run makes from the chains
                     kept with the resolutions
  comment            a comment line inserted before a random statement of a random
                     function (code moves: the stored findings are shifted, and the next
                     edit's run takes the resolutions kept across that shift)
  helper_io          a new helper that reads a file (`with open(path) as f: return f.read()`),
                     appended, and called as the first statement of a random async function,
                     in one of several shapes: plain, also called from sync code, also
                     handed to `call_soon`, called twice, or handed the caller's parameter
  comments2          two comment lines, each before a random statement of a random
                     function (an edit in two places: each moves what follows it by its
                     own offset)
  helper_above       a new helper that reads a file, defined above the top-level statement
                     holding a random async function, and called as that function's first
                     statement (an edit in two places)
  comment_and_call   a library call (as library_call) and a comment line (as comment), in
                     two random places of the file
  import_call        `import shelve` added before the first import, and `shelve.open(...)`
                     as the first statement of a random function (an import of a module
                     outside the project leads demand nowhere)
  async_fn           a new module-level async function appended that awaits and makes a
                     one-line call statement copied from an async function of the file
                     (not one on `self`): it needs what the file's live functions need
  helper_method      a new sync method that reads a file named by an attribute its class
                     assigns (`with open(self._path) as f: return f.read()`), inserted
                     before a random async method of a class and called from it as
                     `self.<name>()`, under a fresh name, or under the name of a method some
                     file defines or calls already (`update`, `close`, `_async_setup`)
  offload_helper     a new sync method (as helper_method) handed, as the first statement of
                     a random async method of its class, to an awaited offload in one of
                     several shapes: `self.hass.async_add_executor_job(self.<name>)` or
                     `asyncio.to_thread(self.<name>)`, also with an argument (a literal,
                     or the method's parameter), or also called directly, or handed to
                     `call_soon` instead (it runs on the loop then)
  param_call         a call passing a parameter of a random function on (`print`, `open`,
                     `time.sleep`, `_LOGGER.debug` where the file has one), as its first
                     statement

With --also-named, each cached run of the corpus is followed by a cached run naming only
the edited file, compared with that file's --no-cache run: the runs of two settings (paths
named) alternate on one cache.

After each edit is undone, the cached run of the tree as it was must print what a
--no-cache run of it printed at the start (undoing `helper` or `append_open` removes a
definition: the file defines less than before).

Prints one line per edit and per undo (how the cache served it, from `--statistics`) and
a summary; exits 1 on any difference. Files the running Python's `ast` cannot parse are skipped.
"""
import argparse
import ast
import os
import random
import subprocess
import sys
import tempfile

KINDS = ["open", "len", "sync_open", "sync_len", "module_stmt", "remove_fn", "append_open", "append_call", "comment", "helper", "repeat_call", "repeat_await", "library_call", "repeat_stmt", "helper_io", "comments2", "helper_above", "comment_and_call", "param_call", "import_call", "async_fn", "helper_method", "offload_helper"]


def dotted(node):
    """Whether an expression is a name or a chain of attributes on one (`a.b.c`)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def has_async_method(tree):
    """Whether a class of the module has an async method."""
    return any(isinstance(m, ast.AsyncFunctionDef)
               for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for m in c.body)


def async_method(tree, rng):
    """A random async method of a class of the module, its first parameter's name, and a
    path to read: an attribute the class assigns (`self._path = path`), else a literal
    path; None if the method has no parameter."""
    methods = [(c, m) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
               for m in c.body if isinstance(m, ast.AsyncFunctionDef)]
    cls, fn = rng.choice(methods)
    if not fn.args.args:
        return None
    attrs = sorted({t.attr for n in ast.walk(cls) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name) and t.value.id == "self"})
    path = "self.%s" % rng.choice(attrs) if attrs else '"/dev/null"'
    return fn, fn.args.args[0].arg, path


def imports_asyncio(tree):
    """Whether a module imports `asyncio` under its own name at the top."""
    return any(isinstance(n, ast.Import) and any(a.name == "asyncio" and a.asname is None
                                                 for a in n.names) for n in tree.body)


def run(lg, corpus, extra):
    p = subprocess.run([lg, "check", corpus, "--output-format", "json", "--statistics", *extra],
                       capture_output=True)
    how = "?"
    for line in p.stderr.decode(errors="replace").splitlines():
        if "; cache: " in line:
            if "analysis run, with" in line:
                how = "analysed+kept"
            elif "analysis run" in line:
                how = "analysed"
            elif "resolved as before" in line:
                how = "same-files+kept"
            elif "analysed again" in line:
                how = "same-files"
            elif "matched to their cached facts" in line:
                how = "shifted"
            else:
                how = "reused"
    return p.stdout, how


def edit(rng, path, kinds, trial):
    src = open(path).read()
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    lines = src.split("\n")
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    sync_funcs = [n for n in funcs if isinstance(n, ast.FunctionDef)]
    top_sync = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    kind = rng.choice(kinds)
    if kind in ("open", "len") and funcs:
        fn = rng.choice(funcs)
        st = fn.body[0]
        stmt = 'open("/dev/null").close()' if kind == "open" else "_ = len([])"
        lines.insert(st.lineno - 1, " " * st.col_offset + stmt)
        what = "%s in %s (%s)" % (kind, fn.name, "async" if isinstance(fn, ast.AsyncFunctionDef) else "sync")
    elif kind == "library_call" and funcs:
        fn = rng.choice(funcs)
        st = fn.body[0]
        stmt = rng.choice(['open("/dev/null")', "time.sleep(0)", 'subprocess.run(["true"])'])
        lines.insert(st.lineno - 1, " " * st.col_offset + stmt)
        what = "%s in %s (%s)" % (stmt, fn.name, "async" if isinstance(fn, ast.AsyncFunctionDef) else "sync")
    elif kind == "repeat_call" and funcs:
        callees = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call) and dotted(n.func)]
        if not callees:
            return None
        fn = rng.choice(funcs)
        st = fn.body[0]
        callee = ast.unparse(rng.choice(callees))
        args = rng.choice(["()", "(0)", "('lg probe %d')" % trial, "(timeout=0)", "(False)"])
        lines.insert(st.lineno - 1, " " * st.col_offset + callee + args)
        what = "%s%s in %s (%s)" % (callee, args, fn.name, "async" if isinstance(fn, ast.AsyncFunctionDef) else "sync")
    elif kind == "repeat_await" and any(isinstance(n, ast.AsyncFunctionDef) for n in funcs):
        awaited = [n.value.func for n in ast.walk(tree)
                   if isinstance(n, ast.Await) and isinstance(n.value, ast.Call) and dotted(n.value.func)]
        if not awaited:
            return None
        fn = rng.choice([n for n in funcs if isinstance(n, ast.AsyncFunctionDef)])
        st = fn.body[0]
        callee = ast.unparse(rng.choice(awaited))
        lines.insert(st.lineno - 1, " " * st.col_offset + "await %s()" % callee)
        what = "await %s() in %s (async)" % (callee, fn.name)
    elif kind == "repeat_stmt" and any(isinstance(n, ast.AsyncFunctionDef) for n in funcs):
        stmts = [n for n in ast.walk(tree)
                 if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
                 and n.lineno == n.end_lineno]
        if not stmts:
            return None
        fn = rng.choice([n for n in funcs if isinstance(n, ast.AsyncFunctionDef)])
        st = fn.body[0]
        copied = lines[rng.choice(stmts).lineno - 1].strip()
        lines.insert(st.lineno - 1, " " * st.col_offset + copied)
        what = "%s in %s (async)" % (copied, fn.name)
    elif kind in ("sync_open", "sync_len") and sync_funcs:
        fn = rng.choice(sync_funcs)
        st = fn.body[-1]
        stmt = 'open("/dev/null").close()' if kind == "sync_open" else "_ = len([])"
        lines.insert(st.lineno - 1, " " * st.col_offset + stmt)
        what = "%s in %s (sync, before its last statement)" % (kind, fn.name)
    elif kind == "helper" and any(isinstance(n, ast.AsyncFunctionDef) for n in funcs):
        fn = rng.choice([n for n in funcs if isinstance(n, ast.AsyncFunctionDef)])
        st = fn.body[0]
        lines.insert(st.lineno - 1, " " * st.col_offset + "_lg_helper_%d()" % trial)
        lines.append('\n\ndef _lg_helper_%d():\n    return open("/dev/null")\n' % trial)
        what = "helper called from %s (async)" % fn.name
    elif kind == "helper_io" and any(isinstance(n, ast.AsyncFunctionDef) for n in funcs):
        # A helper added and called from async code, in one of several shapes: a parameter
        # passed on, a method of what a library call returns, a second call of it from sync
        # code, it handed to the loop by reference, or the caller's own parameter passed.
        fn = rng.choice([n for n in funcs if isinstance(n, ast.AsyncFunctionDef)])
        st = fn.body[0]
        name = "_lg_helper_%d" % trial
        shape = rng.choice(["read", "read", "sync_caller", "call_soon", "two_calls", "param"])
        indent = " " * st.col_offset
        params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
        if shape == "param" and params:
            calls = [indent + "%s(%s)" % (name, rng.choice(params))]
        else:
            calls = [indent + '%s("/dev/null")' % name]
        if shape == "call_soon":
            calls.append(indent + "asyncio.get_running_loop().call_soon(%s, '/dev/null')" % name)
        if shape == "two_calls":
            calls.append(indent + '%s("/dev/zero")' % name)
        lines[st.lineno - 1:st.lineno - 1] = calls
        if shape == "sync_caller" and sync_funcs:
            sync = rng.choice(sync_funcs)
            last = sync.body[-1]
            at = last.lineno - 1
            if at >= st.lineno - 1:
                at += len(calls)
            lines.insert(at, " " * last.col_offset + '%s("/dev/null")' % name)
        lines.append("\n\ndef %s(path):\n    with open(path) as f:\n        return f.read()\n" % name)
        what = "helper (%s) called from %s (async)" % (shape, fn.name)
    elif kind == "helper_method" and has_async_method(tree):
        picked = async_method(tree, rng)
        if not picked:
            return None
        fn, me, path = picked
        name = rng.choice(["_lg_read_%d" % trial, "_lg_read_%d" % trial, "update", "close", "_async_setup"])
        first = (fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno) - 1
        st = fn.body[0]
        indent = " " * fn.col_offset
        lines.insert(st.lineno - 1, " " * st.col_offset + "%s.%s()" % (me, name))
        lines[first:first] = [indent + "def %s(self):" % name,
                              indent + "    with open(%s) as f:" % path,
                              indent + "        return f.read()", ""]
        what = "method %s before %s, called from it (async)" % (name, fn.name)
    elif kind == "offload_helper" and has_async_method(tree):
        picked = async_method(tree, rng)
        if not picked:
            return None
        fn, me, path = picked
        params = [a.arg for a in fn.args.args[1:]]
        name = "_lg_offloaded_%d" % trial
        ref = "%s.%s" % (me, name)
        shapes = ["await %s.hass.async_add_executor_job(%s)" % (me, ref),
                  "await asyncio.to_thread(%s)" % ref,
                  "await asyncio.to_thread(%s, 1)" % ref,
                  "await %s.hass.async_add_executor_job(%s)\n%%s%s()" % (me, ref, ref),
                  "asyncio.get_running_loop().call_soon(%s)" % ref]
        if params:
            shapes.append("await asyncio.to_thread(%s, %s)" % (ref, rng.choice(params)))
        stmt = rng.choice(shapes)
        first = (fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno) - 1
        st = fn.body[0]
        indent = " " * fn.col_offset
        body_indent = " " * st.col_offset
        lines.insert(st.lineno - 1, body_indent + (stmt % body_indent if "%s" in stmt else stmt))
        lines[first:first] = [indent + "def %s(self, *args):" % name,
                              indent + "    with open(%s) as f:" % path,
                              indent + "        return f.read()", ""]
        if not imports_asyncio(tree):
            imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                       and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
            if not imports:
                return None
            lines.insert(imports[0].lineno - 1, "import asyncio")
        what = "method %s before %s, %s there" % (name, fn.name, stmt.split("\n")[0])
    elif kind == "async_fn" and any(isinstance(n, ast.AsyncFunctionDef) for n in funcs):
        stmts = [s for n in funcs if isinstance(n, ast.AsyncFunctionDef) for s in ast.walk(n)
                 if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                 and s.lineno == s.end_lineno and not lines[s.lineno - 1].strip().startswith("self.")]
        if not stmts:
            return None
        copied = lines[rng.choice(stmts).lineno - 1].strip()
        lines.append("\n\nasync def _lg_async_%d():\n    await asyncio.sleep(0)\n    %s\n" % (trial, copied))
        what = "async function appended calling %s" % copied
    elif kind == "import_call" and funcs:
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                   and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        if not imports:
            return None
        fn = rng.choice(funcs)
        st = fn.body[0]
        lines.insert(st.lineno - 1, " " * st.col_offset + 'shelve.open("/dev/null")')
        lines.insert(imports[0].lineno - 1, "import shelve")
        what = "import shelve, shelve.open in %s (%s)" % (fn.name, "async" if isinstance(fn, ast.AsyncFunctionDef) else "sync")
    elif kind == "param_call" and any(len(n.args.args) > (1 if n.args.args and n.args.args[0].arg in ("self", "cls") else 0) for n in funcs):
        with_params = [n for n in funcs
                       if len(n.args.args) > (1 if n.args.args and n.args.args[0].arg in ("self", "cls") else 0)]
        fn = rng.choice(with_params)
        params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
        param = rng.choice(params)
        calls = ['print("lg probe", %s)', "open(%s)", "time.sleep(%s)"]
        if "_LOGGER" in src:
            calls.append('_LOGGER.debug("lg probe %%s", %s)')
        stmt = rng.choice(calls) % param
        st = fn.body[0]
        lines.insert(st.lineno - 1, " " * st.col_offset + stmt)
        what = "%s in %s (%s)" % (stmt, fn.name, "async" if isinstance(fn, ast.AsyncFunctionDef) else "sync")
    elif kind in ("comments2", "comment_and_call") and funcs:
        # Several insertions, made bottom-up so that each line number still holds.
        inserts = []
        for n in range(2):
            fn = rng.choice(funcs)
            if kind == "comment_and_call" and n == 0:
                st = fn.body[0]
                text = rng.choice(['open("/dev/null")', "time.sleep(0)", 'subprocess.run(["true"])'])
            else:
                st = rng.choice(fn.body)
                text = "# lg probe %d.%d" % (trial, n)
            inserts.append((st.lineno - 1, " " * st.col_offset + text, fn.name))
        for at, text, _ in sorted(inserts, key=lambda x: -x[0]):
            lines.insert(at, text)
        what = "; ".join("%s in %s before line %d" % (t.strip(), name, at + 1) for at, t, name in inserts)
    elif kind == "helper_above" and any(isinstance(n, ast.AsyncFunctionDef) for n in funcs):
        fn = rng.choice([n for n in funcs if isinstance(n, ast.AsyncFunctionDef)])
        top = next(t for t in tree.body
                   if t.lineno <= fn.lineno and fn.end_lineno <= t.end_lineno)
        decorators = getattr(top, "decorator_list", None)
        first = (decorators[0].lineno if decorators else top.lineno) - 1
        st = fn.body[0]
        name = "_lg_helper_%d" % trial
        lines.insert(st.lineno - 1, " " * st.col_offset + '%s("/dev/null")' % name)
        lines[first:first] = ["def %s(path):" % name, "    with open(path) as f:",
                              "        return f.read()", "", ""]
        what = "helper above %s, called from it (async)" % fn.name
    elif kind == "comment" and funcs:
        fn = rng.choice(funcs)
        st = rng.choice(fn.body)
        lines.insert(st.lineno - 1, " " * st.col_offset + "# lg probe %d" % trial)
        what = "comment in %s before line %d" % (fn.name, st.lineno)
    elif kind == "module_stmt" and tree.body:
        st = rng.choice(tree.body)
        decorators = getattr(st, "decorator_list", None)
        first = decorators[0].lineno if decorators else st.lineno
        lines.insert(first - 1, "_LG_PROBE = len([])")
        what = "module statement before line %d" % first
    elif kind == "remove_fn" and top_sync:
        fn = rng.choice(top_sync)
        first = (fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno) - 1
        del lines[first:fn.end_lineno]
        what = "removed function %s" % fn.name
    elif kind == "append_call" and top_sync:
        callee = rng.choice(top_sync).name
        lines.append("\n\ndef _lg_probe_%d():\n    return %s()\n" % (trial, callee))
        what = "appended a function calling %s" % callee
    else:
        lines.append('\n\ndef _lg_probe_%d():\n    return open("/dev/null")\n' % trial)
        what = "appended a function calling open"
    return src, "\n".join(lines), what


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loopguard", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--files", help="list of files to edit (default: every .py file)")
    ap.add_argument("--edits", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--also-named", action="store_true",
                    help="after each cached run of the corpus, a cached run naming only the edited "
                         "file (as a pre-commit hook does), compared with its --no-cache run: two "
                         "runs of different paths share the cache")
    args = ap.parse_args()
    corpus = os.path.abspath(args.corpus)
    if args.files:
        files = [l.strip() for l in open(args.files) if l.strip().endswith(".py")]
    else:
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if f.endswith(".py"))
    kinds = args.kinds.split(",")
    rng = random.Random(args.seed)
    cache = tempfile.mkdtemp(prefix="loopguard-differential-")
    cached = ["--cache-dir", cache]
    run(args.loopguard, corpus, cached)
    as_it_was, _ = run(args.loopguard, corpus, ["--no-cache"])
    counts, bad, done = {}, 0, 0

    def compare(rel, label, got, expected, how, what=""):
        """Counts and prints one compared run; 1 if it differs."""
        counts[label + how] = counts.get(label + how, 0) + 1
        same = got == expected
        print("%s %s%s %s%s" % ("ok" if same else "DIFFERENT", label, how, rel, what), flush=True)
        return int(not same)

    while done < args.edits:
        path = rng.choice(files)
        made = edit(rng, path, kinds, done)
        if made is None:
            continue
        original, edited, what = made
        try:
            with open(path, "w") as f:
                f.write(edited)
            a, how = run(args.loopguard, corpus, cached)
            b, _ = run(args.loopguard, corpus, ["--no-cache"])
            if args.also_named:
                named_a, named_how = run(args.loopguard, path, cached)
                named_b, _ = run(args.loopguard, path, ["--no-cache"])
        finally:
            with open(path, "w") as f:
                f.write(original)
        done += 1
        rel = os.path.relpath(path, corpus)
        bad += compare(rel, "", a, b, how, ": " + what)
        if args.also_named:
            bad += compare(rel, "named ", named_a, named_b, named_how)
        back, how = run(args.loopguard, corpus, cached)  # the original text again
        bad += compare(rel, "undo ", back, as_it_was, how)
        if args.also_named:
            named_a, named_how = run(args.loopguard, path, cached)
            named_b, _ = run(args.loopguard, path, ["--no-cache"])
            bad += compare(rel, "named undo ", named_a, named_b, named_how)
    print("%d edits, %d different; %s" % (done, bad, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
