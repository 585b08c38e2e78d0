# SPDX-License-Identifier: ISC
"""What the Python tests (tests/t_*.py) share.

  - the result lines tests/run.sh counts: ok(), skip(), note(), with the
    counts kept for the test's exit status (exit_status());
  - run(): imapwatch run with its exit status and its standard error
    checked, so that a sanitizer or leak report (the ASan build exits 23
    or 24 and says so on stderr) can never pass unseen, whatever the test
    looks at in the output;
  - the shared corpus (../shared/corpus): when it is present every test
    that reads it must run in full; when it is absent the parts that need
    it print one "skip - corpus: ..." line each (tests/run.rules allows
    that line only when the corpus is absent);
  - passwords: the forms one takes in an output (clear, base64 at each
    offset), and the passwords a corpus capture carries, found by tshark
    (never by imapwatch).

    sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
    import iwtest
"""

import base64
import binascii
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
IMAPWATCH = os.path.abspath(os.environ.get("IMAPWATCH") or
                            os.path.join(ROOT, "imapwatch"))
SHARED = os.environ.get("IW_SHARED") or os.path.join(ROOT, "..", "shared")
CORPUS = os.path.join(SHARED, "corpus")

counts = {"ok": 0, "not ok": 0, "skip": 0}


# ---- result lines ----

def ok(cond, what, detail=""):
    """One "ok - what" or "not ok - what (detail)" line; returns cond."""
    cond = bool(cond)
    counts["ok" if cond else "not ok"] += 1
    line = "%s - %s" % ("ok" if cond else "not ok", what)
    if not cond and detail:
        line += " (%s)" % detail
    print(line, flush=True)
    return cond


def skip(what, why):
    counts["skip"] += 1
    print("skip - %s (%s)" % (what, why), flush=True)


def note(text):
    print("# " + text, flush=True)


def exit_status():
    """1 when any check failed: the file fails even if its lines are lost."""
    return 1 if counts["not ok"] else 0


# ---- sanitizer reports ----

SANITIZER = re.compile(r"ERROR: (?:Address|Leak|Memory|Thread)Sanitizer|"
                       r"runtime error:|SUMMARY: \w+Sanitizer")


def sanitizer_report(text):
    """The first line of a sanitizer or leak report in text, or None."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for line in (text or "").splitlines():
        if SANITIZER.search(line):
            return line.strip()
    return None


def check_stderr(err, what):
    """A "not ok" line when err holds a sanitizer report; quiet otherwise.
    Returns True when it holds none."""
    rep = sanitizer_report(err)
    if rep is not None:
        ok(False, "%s: no sanitizer report on stderr" % what, rep[:300])
    return rep is None


# ---- running imapwatch ----

class Result:
    """One run: rc, out (bytes), err (text), lines, events (the lines
    that parse as JSON objects) and bad (the lines that do not); and, as
    subprocess.run(text=True) gives them, returncode, stdout, stderr."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = self.returncode = proc.returncode
        self.out = proc.stdout if proc.stdout is not None else b""
        self.err = self.stderr = (proc.stderr or b"").decode("utf-8",
                                                             "replace")
        self.stdout = self.out.decode("utf-8", "replace")
        self.lines = self.stdout.splitlines()
        self.events, self.bad = [], []
        for line in self.lines:
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                self.bad.append(line)
                continue
            (self.events if isinstance(ev, dict) else self.bad).append(ev)

    def of(self, kind):
        return [e for e in self.events if e.get("event_type") == kind]


def describe(argv):
    return " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a
                    for a in argv[1:])[:160]


def run(args, rc=0, what=None, binary=None, timeout=900, **kw):
    """Runs imapwatch (or binary) with args; kw go to subprocess.run
    (input=, stdin=, cwd=, env=).  A sanitizer report on stderr is a
    "not ok" line, and so is an exit status other than rc (a number, a
    tuple of them, or None for any).  Returns a Result; a run that does
    not end within timeout seconds has rc None."""
    argv = [binary or IMAPWATCH] + [str(a) for a in args]
    what = what or "imapwatch " + describe(argv)
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout,
                              **kw)
    except subprocess.TimeoutExpired as e:
        proc = subprocess.CompletedProcess(argv, None, e.stdout or b"",
                                           e.stderr or b"")
        ok(False, "%s: ends within %d s" % (what, timeout))
    res = Result(argv, proc)
    check_stderr(res.err, what)
    want = rc if isinstance(rc, (tuple, list, set)) else (rc,)
    if rc is not None and res.rc is not None and res.rc not in want:
        ok(False, "%s: exit status %s" % (what, "/".join(map(str, want))),
           "exit %s: %s" % (res.rc, res.err.strip()[-300:]))
    return res


# ---- the corpus ----

def have_corpus():
    return os.path.isdir(CORPUS)


def need_corpus(what):
    """True when the corpus is there; otherwise one skip line for what."""
    if have_corpus():
        return True
    skip("corpus: " + what, "no corpus at %s" % CORPUS)
    return False


def corpus_file(rel):
    """The path of a corpus capture; with the corpus present, a missing
    file is a failure (a renamed capture must not turn checks off)."""
    path = os.path.join(CORPUS, rel)
    if have_corpus() and not os.path.exists(path):
        ok(False, "corpus file %s is present" % rel)
    return path


# ---- passwords ----

def password_forms(pw):
    """The password in clear and in base64 at each of the three offsets it
    can have inside a longer base64 string (a SASL PLAIN blob, say): the
    characters that depend on the password's bytes alone."""
    raw = pw.encode()
    forms = {pw, base64.b64encode(raw).decode().rstrip("=")}
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw).decode()
        start = ((k + 2) // 3) * 4
        end = ((k + len(raw)) // 3) * 4
        core = enc[start:end]
        if len(core) >= 8:
            forms.add(core)
    return forms


def leaked(text, passwords):
    """The forms of the passwords found in text (str or bytes)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return sorted({f for pw in passwords for f in password_forms(pw)
                   if f in text})


_ASTRING = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def _astrings(text):
    """The IMAP astring arguments of a command line (atoms and quoted
    strings; RFC 3501 section 9)."""
    out = []
    for m in _ASTRING.finditer(text):
        if m.group(1) is not None:
            out.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        else:
            out.append(m.group(2))
    return out


def _b64(text):
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _sasl_secret(mech, n, blob):
    """The secret in the n-th (0-based) client response of mech."""
    if mech == "PLAIN" and n == 0 and blob is not None and \
            blob.count(b"\0") == 2:
        return blob.split(b"\0")[2].decode("utf-8", "replace")
    if mech == "LOGIN" and n == 1 and blob is not None:
        return blob.decode("utf-8", "replace")
    return None


_pw_cache = {}


def _sasl_response(word):
    """A client's SASL response (base64, not the "*" that cancels)."""
    return len(word) >= 8 and _b64(word) is not None


def capture_passwords(path):
    """The secrets of the cleartext IMAP logins in a capture, read from
    tshark's IMAP request lines: LOGIN's second argument, the password in
    AUTHENTICATE PLAIN or LOGIN, and every SASL response as sent (a CRAM
    digest or a token is no password, but must not be echoed either).
    tshark's own imap.request.password field is not used: tshark 4.0
    drops a character at each end of it."""
    if path in _pw_cache:
        return _pw_cache[path]
    r = subprocess.run(["tshark", "-n", "-r", path, "-Y", "imap.request",
                        "-T", "fields", "-E", "occurrence=a",
                        "-E", "aggregator=\x1f", "-e", "tcp.stream",
                        "-e", "imap.request"],
                       capture_output=True, timeout=300)
    found, sasl = set(), {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        stream, _, reqs = line.partition("\t")
        for req in reqs.split("\x1f"):
            words = _astrings(req)
            if len(words) >= 4 and words[1].upper() == "LOGIN":
                found.add(words[3])
            elif len(words) >= 3 and words[1].upper() == "AUTHENTICATE":
                mech = words[2].upper()
                sasl[stream] = [mech, 0]
                if len(words) >= 4 and _sasl_response(words[3]):
                    found.add(words[3])   # SASL-IR
                    found.add(_sasl_secret(mech, 0, _b64(words[3])))
                    sasl[stream][1] = 1
            elif stream in sasl and len(words) == 1 and \
                    _sasl_response(words[0]):
                mech, n = sasl[stream]
                found.add(words[0])
                found.add(_sasl_secret(mech, n, _b64(words[0])))
                sasl[stream][1] = n + 1
    _pw_cache[path] = sorted(p for p in found if p)
    return _pw_cache[path]


def check_no_password(text, passwords, what):
    """An ok line: none of passwords appears in text, in any form."""
    bad = leaked(text, passwords)
    return ok(not bad, "%s: none of its %d password(s) appears (clear or "
              "base64)" % (what, len(passwords)), "found %s" % bad)


if __name__ == "__main__":
    for a in sys.argv[1:]:
        print(a, capture_passwords(a))
