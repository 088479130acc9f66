"""What a Python docker SDK user does: ping, version, run, list, logs, wait, remove.

Usage: python3 sdk_session.py BASE_URL NAME_PREFIX
Prints one JSON object with what each call returned (what matters of it).
"""
import json
import sys

import docker

base_url, prefix = sys.argv[1], sys.argv[2]
client = docker.DockerClient(base_url=base_url, version="auto", timeout=60)
report = {}
report["ping"] = client.ping()
version = client.version()
report["version"] = {key: version.get(key) for key in ("Version", "ApiVersion", "MinAPIVersion", "Os", "Arch")}
report["images"] = sorted(tag for image in client.images.list() for tag in image.tags)

# run, attached: stdout only, then both streams
report["run_stdout"] = client.containers.run(
    "busybox", ["sh", "-c", "echo hello from python; echo to stderr >&2"], remove=True, stdout=True, stderr=False
).decode()
report["run_both"] = client.containers.run(
    "busybox", ["sh", "-c", "echo out; sleep 0.1; echo err >&2"], remove=True, stdout=True, stderr=True
).decode()
try:
    client.containers.run("busybox", ["sh", "-c", "echo failing >&2; exit 7"], remove=True)
    report["run_error"] = None
except docker.errors.ContainerError as error:
    report["run_error"] = {"exit_status": error.exit_status, "stderr": error.stderr.decode() if error.stderr else None}

# detached: logs, wait, list, inspect, remove
container = client.containers.run(
    "busybox",
    ["sh", "-c", "for i in 1 2 3; do echo line $i; done; sleep 0.2; echo warn >&2"],
    detach=True,
    name=prefix + "-logger",
    labels={"e2e.python": prefix},
    environment={"FROM_PYTHON": "yes"},
)
report["wait"] = container.wait(timeout=30)
report["logs"] = container.logs().decode()
report["logs_stdout_only"] = container.logs(stdout=True, stderr=False).decode()
report["logs_stream"] = b"".join(container.logs(stream=True, follow=True)).decode()
listed = client.containers.list(all=True, filters={"label": "e2e.python=" + prefix})
report["listed"] = [(item.name, item.status, item.labels) for item in listed]
container.reload()
report["attrs"] = {
    "Name": container.attrs["Name"],
    "Env": sorted(container.attrs["Config"]["Env"]),
    "ExitCode": container.attrs["State"]["ExitCode"],
    "Image": container.attrs["Config"]["Image"],
}
container.remove()
report["after_remove"] = [item.name for item in client.containers.list(all=True, filters={"label": "e2e.python=" + prefix})]
try:
    client.containers.get(prefix + "-logger")
    report["get_removed"] = "found"
except docker.errors.NotFound as error:
    report["get_removed"] = {"status": error.status_code}
print(json.dumps(report, sort_keys=True))
