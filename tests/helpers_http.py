"""A local file server on 127.0.0.1 for download tests (bounded: it only lives inside a `with`)."""
import contextlib
import functools
import http.server
import socket
import threading


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests = None  # a list to record each GET's path in, or None

    def do_GET(self):
        if self.requests is not None:
            self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *a):
        pass


@contextlib.contextmanager
def serve(folder, requests=None):
    """Serve ``folder`` over HTTP on 127.0.0.1 at a free port; yields the base URL (ending in ``/``).

    ``requests``: a list that receives the path of every GET (to prove a second run downloads nothing).
    """
    handler = functools.partial(type("_Handler", (_Quiet,), {"requests": requests}), directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def dead_url():
    """A URL on 127.0.0.1 where nothing listens (a port that was free a moment ago)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"
