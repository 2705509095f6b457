#!/usr/bin/env python3
"""Check that docs/openapi.yaml is a true description of a running node.

    check_api.py URL --ca CA_PEM --key ADMIN_KEY_FILE [--rules RULES_JSON] [--examples N] [--seed S]

1. phr_sign.py reproduces the worked example of docs/api.md byte for byte.
2. docs/openapi.yaml is valid OpenAPI (openapi-spec-validator).
3. With --rules (the route table of host/node/src/api/rules.rs as JSON, written by
   the end-to-end test): the description has exactly those operations, each with
   its access class (`x-phr-access`) and security requirements to match.
4. Schemathesis fuzzes every operation against the node at URL, each request
   signed by the key (an org admin of the node's organisation: a chain reader
   there; see schemathesis_hooks.py), and fails on any server error (5xx) and on
   any answer whose status, content type, headers or body the description does
   not allow, and on a method the description leaves out that is not answered
   405 with `Allow`.

Nothing is excluded. GET /v1/events, an endless stream, is read for at most a
second or three events per case (schemathesis.toml). Run it with the Python of
the venv that scripts/setup.sh makes ($PHR_VENV). Exit status 0 means all passed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
]

# The security requirements of each access class (rules.rs `Access`).
SIGNATURE = {"httpSignature": [], "httpSignatureInput": [], "contentDigest": []}
TOKEN = {"sessionToken": []}
ACCESS = {"Public": "public", "Signed": "signed", "Enrolled": "enrolled", "ChainReader": "chain-reader"}


def step(what: str) -> None:
    print(f"check_api: {what}", file=sys.stderr, flush=True)


def validate_spec() -> dict:
    import yaml
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    spec, _ = read_from_filename(SPEC)
    validate(spec)
    with open(SPEC, encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_rules(spec: dict, rules_path: str) -> list[str]:
    """Compare the operations of the description with the route table."""
    with open(rules_path, encoding="utf-8") as f:
        rules = json.load(f)
    problems = []
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    described = {
        (m.upper(), p): op for p, item in spec["paths"].items() for m, op in item.items() if m in methods
    }
    # A catch-all segment of the router (`{*id}`) is a plain parameter in OpenAPI.
    wanted = {(r["method"], r["path"].replace("{*", "{")): r for r in rules}
    for key in sorted(set(described) - set(wanted)):
        problems.append(f"{key[0]} {key[1]} is described but is no route of rules.rs")
    for key in sorted(set(wanted) - set(described)):
        problems.append(f"{key[0]} {key[1]} is a route of rules.rs but is not described")
    default = spec.get("security", [])
    for key in sorted(set(wanted) & set(described)):
        rule, op = wanted[key], described[key]
        label = f"{key[0]} {key[1]}"
        access = ACCESS[rule["access"]]
        if op.get("x-phr-access") != access:
            problems.append(f"{label}: x-phr-access is {op.get('x-phr-access')!r}, rules.rs says {access!r}")
        security = op.get("security", default)
        if access == "public":
            if security != []:
                problems.append(f"{label}: a public route must have `security: []`")
        elif not security or not all(req in (SIGNATURE, TOKEN) for req in security):
            problems.append(f"{label}: needs a signature or a session token as its security")
        if rule["body"] == "Empty" and "requestBody" in op:
            problems.append(f"{label}: rules.rs says it takes no body")
        if rule["body"] != "Empty" and "requestBody" not in op:
            problems.append(f"{label}: rules.rs says it takes a body; describe it")
        for status in ("413", "429"):
            if status not in op["responses"]:
                problems.append(f"{label}: the guard may answer {status}; describe it")
        if access != "public" and "401" not in op["responses"]:
            problems.append(f"{label}: the guard answers 401 without credentials; describe it")
        if access == "chain-reader" and "403" not in op["responses"]:
            problems.append(f"{label}: the guard answers 403 to callers who are not chain readers; describe it")
    return problems


def run_schemathesis(args: argparse.Namespace) -> int:
    bindir = os.path.dirname(sys.executable)
    exe = os.path.join(bindir, "schemathesis")
    if not os.path.exists(exe):
        raise SystemExit(f"check_api: {exe} is missing: run scripts/setup.sh")
    env = dict(os.environ)
    env.update(
        {
            "PHR_API_URL": args.url,
            "PHR_API_CA": args.ca,
            "PHR_API_KEY": args.key,
            "SCHEMATHESIS_HOOKS": os.path.join(HERE, "schemathesis_hooks.py"),
            "NO_COLOR": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    cmd = [
        exe,
        "--config-file",
        os.path.join(HERE, "schemathesis.toml"),
        "run",
        SPEC,
        "--url",
        args.url,
        "--tls-verify",
        args.ca,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(args.examples),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
        "--no-color",
    ]
    if args.report_dir:
        cmd += ["--report", "junit", "--report-dir", args.report_dir]
    step(f"fuzzing {args.url}: {' '.join(cmd[1:])}")
    # Schemathesis and Hypothesis keep caches in the working directory: not in the source tree.
    with tempfile.TemporaryDirectory(prefix="phr-api-check-") as work:
        return subprocess.run(cmd, env=env, cwd=work).returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url", help="the node, for example https://127.0.0.1:7700")
    p.add_argument("--ca", required=True, help="the network's CA certificate (ca.pem)")
    p.add_argument("--key", required=True, help="key file of an admin of the node's organisation")
    p.add_argument("--rules", help="the route table of rules.rs as JSON, to compare with the description")
    p.add_argument("--examples", type=int, default=50, help="most test cases per operation and phase")
    # One worker: Hypothesis describes strategies by parsing lambdas' source, and
    # CPython 3.11's ast.parse is not safe from two threads at once ("AST
    # constructor recursion depth mismatch").
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=int(os.environ.get("PHR_API_SEED", "20261204")))
    p.add_argument("--report-dir", help="write a JUnit report there")
    args = p.parse_args()
    started = time.monotonic()

    import phr_sign

    with open(os.path.join(ROOT, "docs", "api.md"), encoding="utf-8") as f:
        phr_sign.check_worked_example(f.read())
    step("phr_sign.py reproduces the worked example of docs/api.md")

    spec = validate_spec()
    step(f"{os.path.relpath(SPEC, ROOT)} is valid OpenAPI {spec['openapi']}")

    if args.rules:
        problems = check_rules(spec, args.rules)
        for problem in problems:
            print(f"check_api: {problem}", file=sys.stderr)
        if problems:
            return 1
        step("the description has every route of rules.rs, each with its access class")

    code = run_schemathesis(args)
    step(f"{'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.path.insert(0, HERE)
    sys.exit(main())
