#!/usr/bin/env python3
"""Load a local HTML file in headless Chromium and report, as one JSON object, what
Chromium itself observed: exceptions, console and log errors, every request the page
made, paint and load timings, and optionally a value evaluated in the page and a
screenshot's colour statistics. Python 3 standard library only; Chromium is driven
over the DevTools protocol on a pipe (--remote-debugging-pipe), so no port is opened.

Usage:
    python3 cdp_page.py --html FILE [--wait-expr JS] [--eval JS]
                        [--screenshot OUT.png] [--width 1280] [--height 900]
                        [--timeout 60] [--chromium /usr/bin/chromium] [--verbose]

    --html FILE          the page to load, as file:///<absolute path of FILE>
    --wait-expr JS       a JavaScript expression polled with Runtime.evaluate after the
                         load event until it is truthy (a promise is awaited), e.g.
                         'document.body.dataset.ready === "1"'; without it the page is
                         ready at its load event. Exceptions while polling are not
                         reported as the page's (the page may not have defined what
                         it reads yet); the last one is "wait_last_error" on a timeout.
    --eval JS            once ready (and after the screenshot), evaluate JS with
                         returnByValue and awaitPromise; its JSON value goes to "eval"
    --screenshot OUT.png save a PNG of the viewport at readiness and report its colours
    --width, --height    the viewport, CSS pixels at device scale factor 1 (1280x900)
    --timeout SECONDS    the budget for start, load, readiness, screenshot and eval
                         together (60); closing Chromium has its own 15 s grace
    --chromium PATH      the browser (/usr/bin/chromium, Debian's launcher script)
    --verbose            log the DevTools traffic (less screenshot data) to stderr

Exit status: 0 when the page loaded (load event) and became ready; 1 on a timeout, a
failed navigation, a crash of the browser or the page, an interrupt, or any other
failure, with everything gathered so far still printed; 2 on a usage error (message on
stderr, nothing on stdout). A failing --eval does not change the status: see "eval".

Output keys (times in milliseconds; "*_ms" under "timings" are null when not seen):
    ok, status ("ready" | "timeout" | "load_failed" | "crashed" | "interrupted" |
        "error"), stage (where it stopped: launch, attach, navigate, load, ready,
        paint, screenshot, eval, metrics, done), error, url, wait_expr, wait_polls,
        paint_wait_frames (animation frames waited after readiness for the first
        contentful paint to be reported: up to 30, and 30 when there is none),
    chromium: {path, pid, version, user_agent, exit_code, leftover_processes,
        stderr_tail (only when not ok)},
    timings: {launch_ms (spawn to the first reply), navigate_to_load_event_ms,
        navigate_to_ready_ms (wall time from sending Page.navigate to the wait
        expression answering true), first_paint_ms, first_contentful_paint_ms,
        dom_content_loaded_ms, load_event_end_ms (the last four from the page's own
        performance entries, relative to its navigation start),
        timing_load_event_end_ms (performance.timing.loadEventEnd - navigationStart),
        total_ms (spawn to Chromium gone)},
    exceptions: [{text, description, url, line, column}]   (Runtime.exceptionThrown)
    console_errors, console_warnings: [{type, text, url, line}]
        (Runtime.consoleAPICalled; errors are types error and assert)
    log_errors: [{source, text, url}]                       (Log.entryAdded, level error)
    requests: [{url, type, method}]   (every Network.requestWillBeSent, the page's own
        file:// document included, in order)
    failed_requests: [{url, type, error_text, canceled, blocked_reason, cors_error}]
    dialogs: [{type, message}]        (JavaScript dialogs, dismissed as they open)
    eval: null | {type, value} | {exception} | {error}   (type: the RemoteObject's
        subtype or type, "undefined" included; NaN, Infinity, -0 and bigints at the
        top level come as strings, nested ones as JSON makes them)
    screenshot: null | {path, bytes, width, height, color_type, distinct_colors
        (capped at distinct_colors_cap; distinct_colors_capped says so),
        background ("#rrggbb" or "#rrggbbaa", the most common colour),
        nonbackground_fraction} | {path, error}
    performance_metrics: {name: value} from Performance.getMetrics

Chromium runs with a fresh --user-data-dir in a temporary directory (removed at the
end), in its own session and process group, which is killed once Browser.close has had
its grace, so that no zygote, GPU or renderer process outlives the run. Host names
other than localhost resolve to nothing (--host-resolver-rules), so a page that
reaches for the Internet shows the request failing (net::ERR_NAME_NOT_RESOLVED)
instead of contacting anything; 127.0.0.1 and localhost are left alone.
"""

import argparse
import base64
import collections
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from urllib.parse import quote

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CLOSE_GRACE = 15.0        # seconds Chromium has to exit after Browser.close
DISTINCT_COLORS_CAP = 4096
MAX_TEXT = 2000           # characters kept of a console text, description or URL


class CDPError(Exception):
    """An error reply to a DevTools command."""


class BrowserGone(Exception):
    """Chromium closed its end of the pipe (it exited or crashed)."""


class Timeout(Exception):
    """The deadline passed."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived (SIGINT raises KeyboardInterrupt)."""


def clip(s, n=MAX_TEXT):
    s = "" if s is None else str(s)
    return s if len(s) <= n else s[:n] + "...[%d more]" % (len(s) - n)


def ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 1)


# ---------------------------------------------------------------- the DevTools pipe

class Pipe:
    """Messages to Chromium's fd 3 and from its fd 4, each JSON ended by a NUL byte."""

    def __init__(self, wfd, rfd, on_event, verbose=False):
        self.wfd, self.rfd = wfd, rfd
        os.set_blocking(wfd, False)
        os.set_blocking(rfd, False)
        self.on_event = on_event
        self.verbose = verbose
        self.buf = bytearray()
        self.outbuf = bytearray()
        self.replies = {}
        self.next_id = 0
        self.gone = False
        self.t0 = time.monotonic()

    def log(self, tag, obj):
        if self.verbose:
            text = json.dumps(obj)
            sys.stderr.write("cdp %8.3f %s %s\n" % (time.monotonic() - self.t0, tag,
                                                     clip(text, 600)))

    def send(self, method, params=None, session=None, deadline=None):
        if self.gone:
            raise BrowserGone("Chromium closed the pipe")
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.log(">>", msg)
        # Whole messages join the queue, and the queue is written from its head: a
        # command sent from an event handler while a write waits (a dialog's answer)
        # goes after it, never into the middle of it.
        self.outbuf += json.dumps(msg).encode() + b"\0"
        while self.outbuf:
            try:
                n = os.write(self.wfd, self.outbuf)
                del self.outbuf[:n]
                continue
            except BlockingIOError:
                pass
            except BrokenPipeError:
                self.gone = True
                raise BrowserGone("Chromium closed the pipe")
            # The pipe is full: keep reading Chromium's side while waiting, so that
            # neither side can block the other.
            self._wait_io(deadline, want_write=True)
        return self.next_id

    def _wait_io(self, deadline, want_write=False):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Timeout()
        r, w, _ = select.select([self.rfd], [self.wfd] if want_write else [], [],
                                None if left is None else min(left, 1.0))
        if r:
            self._read()

    def _read(self):
        try:
            chunk = os.read(self.rfd, 1 << 20)
        except BlockingIOError:
            return
        if not chunk:
            self.gone = True
            raise BrowserGone("Chromium closed the pipe")
        self.buf += chunk
        while True:
            end = self.buf.find(b"\0")
            if end < 0:
                break
            raw = bytes(self.buf[:end])
            del self.buf[:end + 1]
            msg = json.loads(raw)
            if "id" in msg:
                self.log("<<", {k: v for k, v in msg.items() if k != "result"}
                         if len(raw) > 4096 else msg)
                self.replies[msg["id"]] = msg
            else:
                self.log("ev", msg)
                self.on_event(msg.get("method"), msg.get("params") or {},
                              msg.get("sessionId"))

    def pump(self, until, deadline):
        """Read messages until until() is true; Timeout at the deadline."""
        while not until():
            self._wait_io(deadline)

    def call(self, method, params=None, session=None, deadline=None):
        cid = self.send(method, params, session, deadline)
        self.pump(lambda: cid in self.replies, deadline)
        reply = self.replies.pop(cid)
        if "error" in reply:
            err = reply["error"]
            raise CDPError("%s: %s %s" % (method, err.get("message"),
                                          err.get("data", "")).rstrip())
        return reply.get("result", {})


# ---------------------------------------------------------------- what the page did

def remote_text(obj):
    """A console argument (a RemoteObject) as text."""
    if "value" in obj:
        v = obj["value"]
        return v if isinstance(v, str) else json.dumps(v)
    if "unserializableValue" in obj:
        return obj["unserializableValue"]
    return obj.get("description") or obj.get("type", "")


def js_truthy(obj):
    """JavaScript truthiness of a RemoteObject returned by Runtime.evaluate."""
    t = obj.get("type")
    if t == "undefined":
        return False
    if t == "object":
        return obj.get("subtype") != "null"
    if t == "boolean":
        return bool(obj.get("value"))
    if t == "number":
        if "unserializableValue" in obj:
            return obj["unserializableValue"] not in ("NaN", "-0")
        return obj.get("value") != 0
    if t == "string":
        return obj.get("value") != ""
    if t == "bigint":
        return obj.get("unserializableValue") not in ("0n", "-0n")
    return True  # function, symbol


def exception_text(details):
    exc = details.get("exception")
    if exc:
        return clip(exc.get("description") or remote_text(exc))
    return clip(details.get("text"))


class Observer:
    """Collects the events of the page's session; tracks load, crash and detach."""

    def __init__(self, out):
        self.out = out
        self.session = None
        self.requests = {}        # requestId -> the last record for it
        self.loaded_loaders = set()
        self.main_loader = None   # loaderId of the last main-frame commit
        self.load_event_at = {}   # loaderId -> monotonic time of its load event
        self.crashed = None
        self.pipe = None

    def __call__(self, method, p, session):
        out = self.out
        if session is None:
            if method == "Target.targetCrashed":
                self.crashed = "target crashed (status %s, code %s)" % (
                    p.get("status"), p.get("errorCode"))
            elif (method == "Target.detachedFromTarget"
                  and p.get("sessionId") == self.session and self.session):
                self.crashed = self.crashed or "detached from the page's target"
            return
        if session != self.session:
            return
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out["exceptions"].append({
                "text": clip(d.get("text")),
                "description": exception_text(d),
                "url": clip(d.get("url")),
                "line": d.get("lineNumber"),
                "column": d.get("columnNumber"),
            })
        elif method == "Runtime.consoleAPICalled":
            kind = p.get("type")
            frames = (p.get("stackTrace") or {}).get("callFrames") or [{}]
            rec = {"type": kind,
                   "text": clip(" ".join(remote_text(a) for a in p.get("args", []))),
                   "url": clip(frames[0].get("url")),
                   "line": frames[0].get("lineNumber")}
            if kind in ("error", "assert"):
                out["console_errors"].append(rec)
            elif kind == "warning":
                out["console_warnings"].append(rec)
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            if e.get("level") == "error":
                out["log_errors"].append({"source": e.get("source"),
                                          "text": clip(e.get("text")),
                                          "url": clip(e.get("url"))})
        elif method == "Network.requestWillBeSent":
            req = p.get("request", {})
            rec = {"url": clip(req.get("url")), "type": p.get("type"),
                   "method": req.get("method")}
            out["requests"].append(rec)
            self.requests[p.get("requestId")] = rec
        elif method == "Network.loadingFailed":
            rec = self.requests.get(p.get("requestId"), {})
            out["failed_requests"].append({
                "url": rec.get("url"), "type": p.get("type") or rec.get("type"),
                "error_text": p.get("errorText"), "canceled": p.get("canceled", False),
                "blocked_reason": p.get("blockedReason"),
                "cors_error": (p.get("corsErrorStatus") or {}).get("corsError")})
        elif method == "Page.frameNavigated":
            frame = p.get("frame", {})
            if not frame.get("parentId"):
                self.main_loader = frame.get("loaderId")
        elif method == "Page.loadEventFired":
            # Messages arrive in order, so this load event belongs to the document
            # whose commit (frameNavigated) came last: a late load event of the
            # about:blank the target started with cannot pass for the page's.
            if self.main_loader is not None:
                self.loaded_loaders.add(self.main_loader)
                self.load_event_at.setdefault(self.main_loader, time.monotonic())
        elif method == "Page.javascriptDialogOpening":
            out["dialogs"].append({"type": p.get("type"),
                                   "message": clip(p.get("message"))})
            if self.pipe is not None:
                # Answered without waiting: a dialog blocks the page until it is.
                try:
                    self.pipe.send("Page.handleJavaScriptDialog", {"accept": False},
                                   self.session)
                except BrowserGone:
                    pass
        elif method == "Inspector.targetCrashed":
            self.crashed = "the page's renderer crashed"
        elif method == "Inspector.detached":
            self.crashed = self.crashed or "inspector detached: %s" % p.get("reason")


# ---------------------------------------------------------------- PNG statistics

def png_decode(data):
    """(width, height, colour type, bytes per pixel, pixel bytes) of an 8-bit
    non-interlaced grey, grey+alpha, RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            ihdr = body
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    if ihdr is None or len(ihdr) < 13:
        raise ValueError("PNG without IHDR")
    w = int.from_bytes(ihdr[0:4], "big")
    h = int.from_bytes(ihdr[4:8], "big")
    depth, color_type, interlace = ihdr[8], ihdr[9], ihdr[12]
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}.get(color_type)
    if depth != 8 or bpp is None or interlace != 0:
        raise ValueError("unsupported PNG (bit depth %d, colour type %d, interlace %d)"
                         % (depth, color_type, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    if len(raw) < h * (stride + 1):
        raise ValueError("PNG data too short")
    # Masks for adding two rows byte by byte, in one big-integer operation (Up).
    low7 = int.from_bytes(b"\x7f" * stride, "little")
    high = int.from_bytes(b"\x80" * stride, "little")
    mask255 = (255).__and__
    pixels = bytearray(h * stride)
    prev = bytes(stride)
    for y in range(h):
        start = y * (stride + 1)
        ftype = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 0:      # None
            pass
        elif ftype == 1:    # Sub: each channel is a running sum, modulo 256
            for c in range(bpp):
                line[c::bpp] = bytes(map(mask255, itertools.accumulate(line[c::bpp])))
        elif ftype == 2:    # Up
            a = int.from_bytes(line, "little")
            b = int.from_bytes(prev, "little")
            s = ((a & low7) + (b & low7)) ^ ((a ^ b) & high)
            line = bytearray(s.to_bytes(stride, "little"))
        elif ftype == 3:    # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:    # Paeth
            for i in range(stride):
                if i >= bpp:
                    a, c = line[i - bpp], prev[i - bpp]
                else:
                    a = c = 0
                b = prev[i]
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    pred = a
                elif pb <= pc:
                    pred = b
                else:
                    pred = c
                line[i] = (line[i] + pred) & 255
        else:
            raise ValueError("bad PNG filter type %d in row %d" % (ftype, y))
        pixels[y * stride:(y + 1) * stride] = line
        prev = line
    return w, h, color_type, bpp, pixels


def png_stats(data, cap=DISTINCT_COLORS_CAP):
    """Width, height, colour type, distinct colours (capped), the most common colour
    and the fraction of pixels not of it, of a PNG png_decode reads."""
    w, h, color_type, bpp, pixels = png_decode(data)
    counts = collections.Counter(zip(*(pixels[c::bpp] for c in range(bpp))))
    (top, top_n), = counts.most_common(1)
    if bpp <= 2:  # grey, grey+alpha: written as RGB(A)
        top = (top[0],) * 3 + top[1:]
    return {
        "width": w, "height": h, "color_type": color_type,
        "distinct_colors": min(len(counts), cap),
        "distinct_colors_capped": len(counts) > cap,
        "distinct_colors_cap": cap,
        "background": "#" + "".join("%02x" % v for v in top),
        "nonbackground_fraction": round(1.0 - top_n / float(w * h), 6),
    }


# ---------------------------------------------------------------- Chromium's process

def chromium_flags(user_data_dir, width, height):
    return [
        "--headless=new",
        # Chromium will not run as root with its sandbox (nor, mostly, in containers),
        # so the sandbox is off: only ever point this at local, trusted test pages.
        "--no-sandbox",
        "--remote-debugging-pipe",
        "--user-data-dir=" + user_data_dir,
        "--window-size=%d,%d" % (width, height),
        # Nothing of its own accord: no updates, sync, metrics, pings, or lookups.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-component-extensions-with-background-pages",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--disable-breakpad",
        "--no-pings",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-service-autorun",
        "--metrics-recording-only",
        "--safebrowsing-disable-auto-update",
        "--password-store=basic",
        "--disable-features=Translate,OptimizationHints,MediaRouter,"
        "InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater,"
        "AutofillServerCommunication,DialMediaRouteProvider",
        # The page's own requests to other hosts fail here, without a DNS lookup.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        "--mute-audio",
        # Screenshots alike from run to run and machine to machine.
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        # Steady on a busy machine: no throttling of timers or renderers that the
        # headless window might be thought to hide, no hang monitor, no prompts.
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-renderer-backgrounding",
        "--disable-hang-monitor",
        "--disable-prompt-on-repost",
        "--deny-permission-prompts",
    ]


def spawn(chromium, flags, tmp, stderr_file):
    """Start Chromium with fds 3 (its commands) and 4 (its replies) on two pipes;
    return (process, our write end, our read end)."""
    cmd_r, cmd_w = os.pipe()
    res_r, res_w = os.pipe()
    try:
        # The pipe ends go in as the child's stdin and stdout, which subprocess puts in
        # place whatever numbers they have here; a two-line shell then moves them to 3
        # and 4 and gives Chromium /dev/null and stderr instead. Doing dup2(x, 3) in a
        # preexec_fn would be at the mercy of which numbers os.pipe() returned (and of
        # subprocess's own error pipe landing on 3 or 4), and close_fds would then close
        # 3 and 4 after preexec_fn anyway. Every other descriptor is closed
        # (close_fds), and the exec's keep the pid: the process we wait for and whose
        # group we kill is Chromium's browser process itself.
        script = 'exec 3<&0 4>&1 0</dev/null 1>&2 || exit 127; exec "$@"'
        env = dict(os.environ)
        # Keep Chromium out of the caller's home: its config and caches go to tmp.
        env["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
        env["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
        proc = subprocess.Popen(
            ["/bin/sh", "-c", script, "cdp_page-launch", chromium] + flags,
            stdin=cmd_r, stdout=res_w, stderr=stderr_file, close_fds=True,
            start_new_session=True, cwd=tmp, env=env)
    except BaseException:
        for fd in (cmd_r, cmd_w, res_r, res_w):
            os.close(fd)
        raise
    os.close(cmd_r)
    os.close(res_w)
    return proc, cmd_w, res_r


def our_processes(sid, marker):
    """Live processes (not zombies) that are Chromium's: those in session sid, whatever
    their group, and those whose command line names our temporary directory (marker),
    such as the crash handlers Chromium starts in sessions of their own."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
            fields = stat[stat.rfind(b")") + 2:].split()  # state ppid pgrp session
            if fields[0] in (b"Z", b"X"):
                continue
            if int(fields[3]) != sid:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if marker not in f.read():
                        continue
        except (OSError, IndexError, ValueError):
            continue
        found.append(int(name))
    return found


def become_subreaper():
    """Adopt Chromium's orphans (its crash handlers daemonize) so that they are reaped
    here even where pid 1 reaps nobody, as in some containers. Best effort."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError, ImportError):
        pass


def leader_exited(pid):
    """Whether pid has exited, without reaping it: while it is an unreaped zombie its
    pid (our process group and session id) cannot be reused, so killing the group
    afterwards cannot hit anyone else."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def shut_down(proc, pipe, grace, marker):
    """Browser.close, wait up to grace seconds, then SIGKILL the whole group, session
    and anything else naming marker; return (exit code, processes left alive)."""
    end = time.monotonic() + grace
    # Without a pipe (interrupted as it started) there is nobody to ask: kill at once.
    closing = pipe is not None
    if closing and not pipe.gone and not leader_exited(proc.pid):
        try:
            cid = pipe.send("Browser.close", deadline=end)
            pipe.pump(lambda: cid in pipe.replies, end)
        except (BrowserGone, Timeout, OSError, ValueError):
            pass
    # Polling, not deciding: the wait ends as soon as Chromium is gone.
    delay = 0.01
    while closing and not leader_exited(proc.pid) and time.monotonic() < end:
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    sid = proc.pid  # start_new_session: the session and group ids are its pid
    left = []
    for attempt in range(100):
        try:
            os.killpg(sid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        left = [p for p in our_processes(sid, marker) if p != proc.pid]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if not left:
            break
        time.sleep(0.05)  # SIGKILL is delivered; give the kernel a moment to finish
    code = proc.wait()
    while True:  # reap the orphans adopted as subreaper
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    return code, len(our_processes(sid, marker))


# ---------------------------------------------------------------- the run

def evaluate(pipe, session, expr, deadline, by_value, silent=False, group=None):
    params = {"expression": expr, "returnByValue": by_value, "awaitPromise": True,
              "silent": silent}
    if group:
        params["objectGroup"] = group
    return pipe.call("Runtime.evaluate", params, session, deadline)


PAGE_TIMINGS_JS = r"""
(() => {
  const paint = {};
  for (const e of performance.getEntriesByType('paint')) paint[e.name] = e.startTime;
  const nav = performance.getEntriesByType('navigation')[0];
  const t = performance.timing;
  return {
    paint,
    domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
    loadEventEnd: nav ? nav.loadEventEnd : null,
    timingLoadEventEnd: t.loadEventEnd ? t.loadEventEnd - t.navigationStart : null,
  };
})()
"""

# Paint entries are queued only when the compositor reports the frame presented, which
# on a loaded machine can be several frames after the page became ready: wait for the
# first contentful paint, or for PAINT_FRAMES animation frames to have gone by without
# one (a page with nothing contentful, such as a blank one, never has one). Counting
# frames, not milliseconds, lets the wait stretch with the machine's frame rate.
PAINT_FRAMES = 30
SETTLE_JS = r"""
new Promise(resolve => {
  let frames = 0;
  const tick = () => {
    const fcp = performance.getEntriesByType('paint')
      .some(e => e.name === 'first-contentful-paint');
    if (fcp || frames >= %d) resolve(frames); else { frames++; requestAnimationFrame(tick); }
  };
  tick();
})
""" % PAINT_FRAMES
PAINT_SETTLE_MAX = 15.0   # seconds; should animation frames not come at all

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(args, out):
    t_spawn = time.monotonic()
    deadline = t_spawn + args.timeout
    out["stage"] = "launch"
    become_subreaper()
    tmp = tempfile.mkdtemp(prefix="cdp_page.")
    proc = None
    stderr_path = os.path.join(tmp, "chromium.stderr")
    obs = Observer(out)
    try:
        # Signals wait while Chromium starts, so that none can come between its start
        # and the clean-up being armed for it (the handlers are ours, Python's: the
        # child starts with the default ones, and no signal mask).
        pending = []
        old = {sig: signal.signal(sig, lambda signum, frame: pending.append(signum))
               for sig in STOP_SIGNALS}
        try:
            with open(stderr_path, "wb") as stderr_file:
                proc, cmd_w, res_r = spawn(args.chromium,
                                           chromium_flags(os.path.join(tmp, "profile"),
                                                          args.width, args.height),
                                           tmp, stderr_file)
        finally:
            if proc is None:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
        out["chromium"]["pid"] = proc.pid
        pipe = None
        try:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            for sig in pending:
                signal.raise_signal(sig)
            pipe = Pipe(cmd_w, res_r, obs, args.verbose)
            obs.pipe = pipe
            _drive(args, out, pipe, obs, t_spawn, deadline)
        finally:
            # A second Ctrl-C or SIGTERM must not cut the clean-up short.
            old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
            try:
                code, left = shut_down(proc, pipe, CLOSE_GRACE, os.fsencode(tmp) + b"/")
                out["chromium"]["exit_code"] = code
                out["chromium"]["leftover_processes"] = left
                out["timings"]["total_ms"] = ms(time.monotonic() - t_spawn)
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
                for fd in (cmd_w, res_r):
                    os.close(fd)
    finally:
        if proc is not None:  # main() drops it when all went well
            try:
                with open(stderr_path, "rb") as f:
                    f.seek(0, os.SEEK_END)
                    start = max(0, f.tell() - (1 << 16))
                    f.seek(start)
                    lines = f.read().decode("utf-8", "replace").splitlines()
                # Without a D-Bus (headless, containers) Chromium complains at length.
                text = "\n".join(l for l in lines[1 if start else 0:]
                                 if ":ERROR:dbus/" not in l)
                out["chromium"]["stderr_tail"] = text[-3000:]
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def _drive(args, out, pipe, obs, t_spawn, deadline):
    version = pipe.call("Browser.getVersion", deadline=deadline)
    out["timings"]["launch_ms"] = ms(time.monotonic() - t_spawn)
    out["chromium"]["version"] = version.get("product")
    out["chromium"]["user_agent"] = version.get("userAgent")

    out["stage"] = "attach"
    target = pipe.call("Target.createTarget", {"url": "about:blank"},
                       deadline=deadline)["targetId"]
    session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                        deadline=deadline)["sessionId"]
    obs.session = session
    s = session
    pipe.call("Emulation.setDeviceMetricsOverride",
              {"width": args.width, "height": args.height, "deviceScaleFactor": 1,
               "mobile": False}, s, deadline)
    for domain in ("Inspector", "Page", "Runtime", "Log", "Network", "Performance"):
        pipe.call(domain + ".enable", {}, s, deadline)

    def check_crash():
        if obs.crashed:
            raise BrowserGone(obs.crashed)

    out["stage"] = "navigate"
    t_nav = time.monotonic()
    nav = pipe.call("Page.navigate", {"url": out["url"]}, s, deadline)
    if nav.get("errorText"):
        out["status"] = "load_failed"
        out["error"] = "Page.navigate: " + nav["errorText"]
        return
    loader = nav.get("loaderId")

    out["stage"] = "load"
    pipe.pump(lambda: obs.crashed or loader in obs.loaded_loaders, deadline)
    check_crash()
    out["timings"]["navigate_to_load_event_ms"] = ms(obs.load_event_at[loader] - t_nav)

    out["stage"] = "ready"
    if args.wait_expr is None:
        out["timings"]["navigate_to_ready_ms"] = out["timings"]["navigate_to_load_event_ms"]
    else:
        interval = 0.02
        while True:
            check_crash()
            out["wait_polls"] += 1
            try:
                res = evaluate(pipe, s, args.wait_expr, deadline, by_value=False,
                               silent=True, group="cdp_page_wait")
            except CDPError as e:  # e.g. no execution context at this instant
                out["wait_last_error"] = clip(str(e), 300)
                res = {}
            if "exceptionDetails" in res:
                out["wait_last_error"] = exception_text(res["exceptionDetails"])
            elif res and js_truthy(res.get("result", {})):
                out["timings"]["navigate_to_ready_ms"] = ms(time.monotonic() - t_nav)
                break
            if (res.get("result") or {}).get("objectId"):
                pipe.call("Runtime.releaseObjectGroup", {"objectGroup": "cdp_page_wait"},
                          s, deadline)
            # Keep reading events between polls.
            until = time.monotonic() + interval
            try:
                pipe.pump(lambda: obs.crashed, min(until, deadline))
            except Timeout:
                if time.monotonic() >= deadline:
                    raise
            interval = min(interval * 1.5, 0.25)
    out.pop("wait_last_error", None)
    out["ok"] = True
    out["status"] = "ready"

    out["stage"] = "paint"
    try:
        settle = evaluate(pipe, s, SETTLE_JS,
                          min(deadline, time.monotonic() + PAINT_SETTLE_MAX),
                          by_value=True)
        out["paint_wait_frames"] = (settle.get("result") or {}).get("value")
    except Timeout:  # no animation frames (a hidden page?): read what there is
        if time.monotonic() >= deadline:
            raise
    page = evaluate(pipe, s, PAGE_TIMINGS_JS, deadline, by_value=True)
    val = (page.get("result") or {}).get("value") or {}
    paint = val.get("paint") or {}
    t = out["timings"]
    t["first_paint_ms"] = paint.get("first-paint")
    t["first_contentful_paint_ms"] = paint.get("first-contentful-paint")
    t["dom_content_loaded_ms"] = val.get("domContentLoaded")
    t["load_event_end_ms"] = val.get("loadEventEnd")
    t["timing_load_event_end_ms"] = val.get("timingLoadEventEnd")
    for k in ("first_paint_ms", "first_contentful_paint_ms", "dom_content_loaded_ms",
              "load_event_end_ms"):
        if isinstance(t[k], float):
            t[k] = round(t[k], 1)

    if args.screenshot:
        out["stage"] = "screenshot"
        shot = pipe.call("Page.captureScreenshot",
                         {"format": "png", "fromSurface": True}, s, deadline)
        data = base64.b64decode(shot["data"])
        with open(args.screenshot, "wb") as f:
            f.write(data)
        info = {"path": os.path.abspath(args.screenshot), "bytes": len(data)}
        try:
            info.update(png_stats(data))
        except (ValueError, zlib.error) as e:
            info["error"] = str(e)
        out["screenshot"] = info

    if args.eval is not None:
        out["stage"] = "eval"
        try:
            res = evaluate(pipe, s, args.eval, deadline, by_value=True)
            if "exceptionDetails" in res:
                out["eval"] = {"exception": exception_text(res["exceptionDetails"])}
            else:
                r = res.get("result", {})
                out["eval"] = {"type": r.get("subtype") or r.get("type"),
                               "value": r.get("value", r.get("unserializableValue"))}
        except CDPError as e:
            out["eval"] = {"error": clip(str(e), 500)}

    out["stage"] = "metrics"
    metrics = pipe.call("Performance.getMetrics", {}, s, deadline)
    out["performance_metrics"] = {m["name"]: m["value"] for m in metrics.get("metrics", [])}
    check_crash()
    out["stage"] = "done"


def parse_args(argv):
    class Parser(argparse.ArgumentParser):
        def error(self, message):
            self.print_usage(sys.stderr)
            sys.stderr.write("%s: error: %s\n" % (self.prog, message))
            sys.exit(2)

    ap = Parser(description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html", required=True, metavar="FILE")
    ap.add_argument("--wait-expr", metavar="JS")
    ap.add_argument("--eval", metavar="JS")
    ap.add_argument("--screenshot", metavar="OUT.png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    ap.add_argument("--chromium", default=DEFAULT_CHROMIUM, metavar="PATH")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.html) or not os.access(args.html, os.R_OK):
        ap.error("--html: no readable file %r" % args.html)
    if not (shutil.which(args.chromium)):
        ap.error("--chromium: %r is not an executable" % args.chromium)
    if not (1 <= args.width <= 16384 and 1 <= args.height <= 16384):
        ap.error("--width/--height must be within 1..16384")
    if not args.timeout > 0:
        ap.error("--timeout must be positive")
    if args.screenshot:
        d = os.path.dirname(os.path.abspath(args.screenshot))
        if not os.path.isdir(d):
            ap.error("--screenshot: no directory %r" % d)
    if args.wait_expr is not None and not args.wait_expr.strip():
        ap.error("--wait-expr is empty")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    path = os.path.realpath(args.html)
    out = {
        "ok": False, "status": "error", "stage": None, "error": None,
        "url": "file://" + quote(path), "wait_expr": args.wait_expr,
        "wait_polls": 0, "paint_wait_frames": None,
        "chromium": {"path": args.chromium, "pid": None, "version": None,
                     "user_agent": None, "exit_code": None, "leftover_processes": None},
        "timings": {k: None for k in (
            "launch_ms", "navigate_to_load_event_ms", "navigate_to_ready_ms",
            "first_paint_ms", "first_contentful_paint_ms", "dom_content_loaded_ms",
            "load_event_end_ms", "timing_load_event_end_ms", "total_ms")},
        "exceptions": [], "console_errors": [], "console_warnings": [],
        "log_errors": [], "requests": [], "failed_requests": [], "dialogs": [],
        "eval": None, "screenshot": None, "performance_metrics": None,
    }

    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        run(args, out)
    except Timeout:
        out["status"] = "timeout"
        out["error"] = "no %s within %g s" % (
            {"load": "load event", "ready": "true from --wait-expr"}.get(
                out["stage"], out["stage"] + " step"), args.timeout)
    except BrowserGone as e:
        out["status"] = "crashed"
        out["error"] = str(e)
    except (KeyboardInterrupt, Interrupted) as e:
        out["status"] = "interrupted"
        out["error"] = "interrupted (%s)" % (e.args[0] if e.args else "SIGINT")
    except Exception as e:  # CDPError, OSError, ...: reported, not a traceback
        out["status"] = "error"
        out["error"] = "%s: %s" % (type(e).__name__, e)
    if out["status"] != "ready":
        out["ok"] = False
    if out["ok"]:
        out["chromium"].pop("stderr_tail", None)
    sys.stdout.write(json.dumps(out, indent=1) + "\n")
    sys.stdout.flush()
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
