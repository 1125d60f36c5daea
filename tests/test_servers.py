"""`retaillab ui` and `retaillab lab` print their URL only once the server answers, serve on
127.0.0.1 only, and stop their whole server tree on SIGTERM or SIGINT; a notebook run
through the lab's own kernel (its REST and websocket APIs) logs an interactive run, with
commit and notebook tags, to the store the lab was started with."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from retaillab import tracking

ROOT = tracking.project_root(Path(__file__).resolve().parent)  # holds notebooks/00_tour.ipynb
TOUR = "notebooks/00_tour.ipynb"
DEADLINE = 240.0  # a safety net: every wait below ends on a readiness signal


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Command:
    """A `retaillab` subprocess whose stdout lines are read as they come (readiness)."""

    def __init__(self, args: list[str], cwd: Path, log: Path) -> None:
        self.log = log
        with open(log, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "retaillab.cli", *args],
                                            cwd=cwd, env=os.environ.copy(), text=True,
                                            stdout=subprocess.PIPE, stderr=err)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.leaders: set[int] = set()
        self.seen: set[int] = set()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def line(self, pattern: str) -> re.Match:
        """The first stdout line matching ``pattern`` (fails if the command ends first)."""
        end = time.monotonic() + DEADLINE
        seen = []
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r}; stdout: {''.join(seen)!r}; exit "
                             f"{self.process.poll()}; stderr: {self.log.read_text()[-3000:]}")

    def server_tree(self) -> set[int]:
        """The server's processes now: its own process group, led by this command's child
        (remembered, so that :meth:`kill` can end them whatever happens)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            self.leaders = {int(pid) for pid in children.read_text().split()}
        tree = {pid for pid in _pids() if _group(pid) in self.leaders}
        self.seen |= tree
        return tree

    def kill(self) -> None:
        """Leave nothing behind, whatever the test found."""
        if self.process.poll() is None:
            self.server_tree()
            self.process.kill()
        self.process.wait()
        for pid in self.seen | {p for p in _pids() if _group(p) in self.leaders}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _group(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[2]) if fields else None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie has ended


def _refuses(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        return True
    return False


def _only_on_loopback(port: int) -> None:
    """Nothing answers on this host's other addresses."""
    with contextlib.suppress(OSError):
        for host in {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), port,
                                                          socket.AF_INET)}:
            if host != "127.0.0.1":
                assert _refuses(port, host), f"answers on {host}:{port}"


def _stops(command: Command, sig: int, port: int, at_least: int = 1) -> None:
    """``sig`` to retaillab's pid only: it exits 0, every server process is gone, the port
    refuses connections."""
    tree = command.server_tree()
    assert len(tree) >= at_least, tree
    command.process.send_signal(sig)
    assert command.process.wait(timeout=DEADLINE) == 0, command.log.read_text()[-3000:]
    end = time.monotonic() + 30  # members outside the leader may take a moment to be reaped
    while any(map(_alive, tree)) and time.monotonic() < end:
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)], "a server process outlived retaillab"
    assert _refuses(port)


@pytest.mark.slow
def test_ui_answers_once_it_prints_its_url_and_sigterm_stops_the_server_tree(store):
    port = _free_port()
    ui = Command(["ui", "--port", str(port)], store, store / "ui.log")
    try:
        url = ui.line(rf"MLflow UI for \S+ at (http://127\.0\.0\.1:{port})").group(1)
        # printed only once the UI answers: the first request, without retrying, succeeds
        with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
            assert response.read().decode().strip() == "OK"
        _only_on_loopback(port)
        _stops(ui, signal.SIGTERM, port, at_least=2)  # mlflow ui, uvicorn
    finally:
        ui.kill()


def test_ui_refuses_a_port_in_use_at_once(store, capsys):
    from retaillab.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} is in use" in err and "--port" in err and "Traceback" not in err


class Kernel:
    """A kernel of the lab server, spoken to over its websocket channels (Jupyter messaging
    protocol 5.3, JSON frames)."""

    def __init__(self, port: int, kernel_id: str, token: str) -> None:
        import websocket

        self.session = uuid.uuid4().hex
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {token}"], timeout=DEADLINE)

    def request(self, msg_type: str, content: dict, channel: str = "shell") -> dict:
        """Send one request; its reply, with the iopub output that came before it."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": self.session,
                       "username": "test", "version": "5.3",
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel,
            "buffers": []}))
        output = []
        reply_type = msg_type.replace("_request", "_reply")
        while True:
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] in ("stream", "error"):
                content_ = message["content"]
                output.append(content_.get("text") or "\n".join(content_.get("traceback", [])))
            if message["msg_type"] == reply_type:
                return {**message["content"], "output": "".join(output)}

    def execute(self, code: str, **expressions: str) -> dict:
        return self.request("execute_request", {
            "code": code, "silent": False, "store_history": True, "allow_stdin": False,
            "user_expressions": expressions, "stop_on_error": True})


def _api(port: int, token: str | None, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"token {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
        return response.status, (json.loads(text) if text else None)


@pytest.mark.slow
@pytest.mark.notebook
def test_lab_runs_the_tour_in_its_kernel_and_the_store_holds_the_interactive_run(store):
    """`retaillab lab` at the project root, with the throwaway store: the kernel runs on this
    interpreter with the store set, the tour's cells run in order, SIGINT stops the lab."""
    assert (ROOT / TOUR).is_file()
    port = _free_port()
    lab = Command(["lab", "--port", str(port)], ROOT, store / "lab.log")
    try:
        found = lab.line(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)")
        token = found.group(1)
        assert len(token) >= 32
        assert _api(port, token, "GET", "/api/status")[0] == 200  # answers at once
        with pytest.raises(urllib.error.HTTPError) as refused:  # nothing without the token
            _api(port, None, "GET", "/api/sessions")
        assert refused.value.code in (401, 403)
        _only_on_loopback(port)
        specs = _api(port, token, "GET", "/api/kernelspecs")[1]["kernelspecs"]
        assert specs["python3"]["spec"]["argv"][0] == sys.executable

        status, session = _api(port, token, "POST", "/api/sessions", {
            "path": TOUR, "name": Path(TOUR).name, "type": "notebook",
            "kernel": {"name": "python3"}})
        assert status == 201
        kernel = Kernel(port, session["kernel"]["id"], token)
        assert kernel.request("kernel_info_request", {})["status"] == "ok"
        probe = kernel.execute("import os, sys", exe="sys.executable",
                               uri="os.environ.get('MLFLOW_TRACKING_URI')")
        values = {k: v["data"]["text/plain"] for k, v in probe["user_expressions"].items()}
        assert values == {"exe": repr(sys.executable), "uri": repr(os.environ[
            "MLFLOW_TRACKING_URI"])}  # the project's interpreter, logging to the given store
        bars = kernel.execute("import warnings\nfrom tqdm.auto import tqdm\n"
                              "with warnings.catch_warnings():\n"
                              "    warnings.simplefilter('error')\n"
                              "    assert sum(tqdm(range(3))) == 3")
        assert bars["status"] == "ok", bars  # a widget bar: ipywidgets is there, no warning
        cells = json.loads((ROOT / TOUR).read_text())["cells"]
        for number, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
            reply = kernel.execute("".join(cell["source"]))
            assert reply["status"] == "ok", f"code cell {number}: {reply}"
        kernel.ws.close()
        assert _api(port, token, "DELETE", f"/api/sessions/{session['id']}")[0] == 204
        _stops(lab, signal.SIGINT, port)
    finally:
        lab.kill()

    client = tracking.client()
    experiment = client.get_experiment_by_name("tour")
    assert experiment is not None, "the tour logged nothing to the lab's store"
    runs = [r for r in client.search_runs([experiment.experiment_id])
            if r.data.tags.get(tracking.TAG_INTERACTIVE) == "true"]
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags[tracking.TAG_NOTEBOOK] == TOUR
    assert re.fullmatch(r"[0-9a-f]{40}", run.data.tags[tracking.TAG_COMMIT])


@pytest.mark.notebook
@pytest.mark.slow(seconds=25)
def test_a_tracking_server_takes_runs_models_reports_and_scores_with_proxied_artifacts(
        store, monkeypatch):
    """`retaillab server` on the store; every client below knows only its URL."""
    import pandas as pd
    import yaml

    from retaillab import churn, data, report
    from retaillab.churn.tables import customer_table, scoring_input
    from retaillab.models.promotion import promote

    port = _free_port()
    server = Command(["server", "--port", str(port), "--workers", "1"], store,
                     store / "server.log")
    try:
        url = server.line(rf"MLflow tracking server for \S+ at (http://127\.0\.0\.1:{port})"
                          ).group(1)
        _only_on_loopback(port)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        tracking._CLIENTS.clear()
        spec = store / "served.yaml"
        spec.write_text(yaml.safe_dump({
            "name": "served", "notebook": str(ROOT / "tests" / "fixtures" / "ok.ipynb"),
            "parameters": {"seed": 3, "alpha": 2.0}}))
        done = subprocess.run([sys.executable, "-m", "retaillab.cli", "run", str(spec), "-q"],
                              cwd=store, env=os.environ.copy(), capture_output=True,
                              text=True, timeout=DEADLINE)
        assert done.returncode == 0, done.stderr
        # a comparison logs its winner through the server; promote; score in a new process
        cdnow = data.load("cdnow_sample")
        customers, cutoff = customer_table(cdnow, "churn", None, 180)
        run = tracking.notebook_run(None, experiment="served-churn")
        churn.compare(customers, models=["dummy", "logistic"], n_splits=3, n_repeats=1,
                      run=run, importance=False, progress=False,
                      model_input=scoring_input(cdnow, "churn", cutoff, 180))
        run.close()
        promoted = promote(run.run_id, name="served-churn")
        assert promoted.uri == "models:/served-churn@champion" and promoted.version == "1"
        scored = store / "scores.csv"
        done = subprocess.run([sys.executable, "-m", "retaillab.cli", "score",
                               "models:/served-churn@champion", "cdnow_sample", "-o",
                               str(scored), "-q"], cwd=store, env=os.environ.copy(),
                              capture_output=True, text=True, timeout=DEADLINE)
        assert done.returncode == 0, done.stderr
        assert len(pd.read_csv(scored)) == cdnow.transactions["customer"].nunique()
        page = report.experiment_html(report.gather("served"))
        assert "<h3>Leaderboard</h3>" in page and "rmse" in page
        # the artifacts went through the server into its artifact folder, nowhere else
        served = store / "mlruns" / "artifacts"
        assert any(p.name == "MLmodel" for p in served.rglob("MLmodel"))
        assert any(p.name == "summary.csv" for p in served.rglob("summary.csv"))
        assert not (store / "mlruns" / "outputs").exists()  # a server keeps notebooks as artifacts
        _stops(server, signal.SIGTERM, port)
    finally:
        server.kill()
        tracking._CLIENTS.clear()
