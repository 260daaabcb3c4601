#!/usr/bin/env python3
"""RSS of gateway-monoio holding N idle keep-alive client connections.

Starts a tiny upstream and the release gateway (2 workers, one open route), measures the
gateway's RSS, opens N connections that each make one request and then stay open (idle
keep-alive), measures again, and prints the RSS per idle connection. Linux only (reads /proc).

    scripts/idle-rss.py [N=10000]
"""
import os, resource, socket, subprocess, sys, tempfile, threading, time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/gateway-monoio")

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
# Each process (this client and the gateway, which inherits the limit) holds N sockets.
want = min(hard, N + 4096)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
if want < N + 512:
    sys.exit(f"open-file limit {hard} too low for {N} connections")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def upstream(listener):
    def serve(c):
        buf = b""
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


up = socket.socket()
up.bind(("127.0.0.1", 0))
up.listen(1024)
threading.Thread(target=upstream, args=(up,), daemon=True).start()
gw_port = free_port()
work = tempfile.mkdtemp()
conf = os.path.join(work, "gw.yaml")
with open(conf, "w") as f:
    f.write(f"""gateway:
  listen: 127.0.0.1:{gw_port}
  workers: 2
  access_log: off
  max_connections: {N + 1024}
  client_keepalive_timeout: 600
routes:
  - uri: /*
    upstream: {{nodes: {{"127.0.0.1:{up.getsockname()[1]}": 1}}}}
""")
gw = subprocess.Popen([BIN, "--config", conf], stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", gw_port)).close()
            break
        except OSError:
            time.sleep(0.05)
    # Warm: a few requests so pools and per-worker scratch exist before the baseline.
    warm = [socket.create_connection(("127.0.0.1", gw_port)) for _ in range(8)]
    for s in warm:
        s.sendall(b"GET /warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.recv(1024)
        s.close()
    time.sleep(0.5)
    before = rss_kib(gw.pid)
    conns = []
    req = b"GET /idle HTTP/1.1\r\nHost: x\r\nUser-Agent: idle-rss\r\nAccept: */*\r\n\r\n"
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", gw_port))
        s.sendall(req)
        got = b""
        while not got.endswith(b"ok"):
            d = s.recv(1024)
            if not d:
                sys.exit(f"connection {i} closed early")
            got += d
        conns.append(s)
    time.sleep(1.0)
    after = rss_kib(gw.pid)
    alive = 0
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                continue
        except BlockingIOError:
            alive += 1
    per = (after - before) * 1024 / N
    print(f"idle keep-alive connections: {N} (still open: {alive})")
    print(f"gateway RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after")
    print(f"per idle connection: {per:.0f} bytes ({per / 1024:.2f} KiB)")
finally:
    gw.terminate()
    gw.wait(timeout=30)
