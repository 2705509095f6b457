#!/usr/bin/env python3
"""Validate FHIR R5 JSON resources with the fhir.resources package (R5 is its default model set).

Usage: validate_fhir.py [FILE]   (stdin without FILE)

The input is one resource, a JSON array of resources, or a Bundle (the Bundle is validated,
then each entry's resource on its own, so that an error names the resource it is in). Besides
the models' checks (structure, cardinality, primitive formats, unknown elements), the FHIR JSON
rules the models let through are checked: ids of at most 64 characters, no null, empty
string, empty array or empty object anywhere, and (bdl-15) a fullUrl on every entry of a Bundle
that is not a transaction or batch.

Prints one line per resource, `ok Type/id` or `FAIL Type/id: <first error>`, and exits 1 if any
resource fails (2 if the input is not JSON or fhir.resources is missing).
"""

import json
import sys

try:
    from fhir.resources import get_fhir_model_class
    from pydantic import ValidationError
except ImportError as e:  # pragma: no cover - depends on the venv
    print(f"validate_fhir: {e}: run scripts/setup.sh to install tests/api/requirements.txt", file=sys.stderr)
    sys.exit(2)


def json_rule_error(value, path):
    """The first place where `value` breaks a FHIR JSON rule, or None."""
    if value is None:
        return f"{path}: null is not allowed"
    if isinstance(value, str):
        return f"{path}: empty string" if value.strip() == "" else None
    if isinstance(value, list):
        if not value:
            return f"{path}: empty array"
        for i, v in enumerate(value):
            err = json_rule_error(v, f"{path}[{i}]")
            if err:
                return err
        return None
    if isinstance(value, dict):
        if not value:
            return f"{path}: empty object"
        for k, v in value.items():
            if k == "id" and isinstance(v, str) and len(v) > 64:
                return f"{path}.id: {len(v)} characters, more than 64"
            err = json_rule_error(v, f"{path}.{k}")
            if err:
                return err
    return None


def first_error(resource):
    """The first error of one resource, or None if it is valid R5."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return "not a FHIR resource (a JSON object with a resourceType)"
    rt = resource["resourceType"]
    err = json_rule_error(resource, rt)
    if err:
        return err
    if rt == "Bundle" and resource.get("type") not in ("transaction", "transaction-response", "batch", "batch-response"):
        for i, entry in enumerate(resource.get("entry") or []):
            if isinstance(entry, dict) and "fullUrl" not in entry:
                return f"Bundle.entry[{i}]: no fullUrl (bdl-15)"
    try:
        model = get_fhir_model_class(rt)
    except (KeyError, ValueError, LookupError) as e:
        return f"{rt} is not an R5 resource type ({e})"
    try:
        model.model_validate(resource)
    except ValidationError as e:
        errors = e.errors()
        first = errors[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{loc}: {first.get('msg')}{more}"
    return None


def resources_of(doc):
    """Each resource to validate in `doc`: itself, its items, a Bundle's entries."""
    items = doc if isinstance(doc, list) else [doc]
    for r in items:
        yield r
        if isinstance(r, dict) and r.get("resourceType") == "Bundle":
            for i, entry in enumerate(r.get("entry") or []):
                if isinstance(entry, dict) and "resource" in entry:
                    yield from resources_of(entry["resource"])


def label(r):
    if isinstance(r, dict):
        return f"{r.get('resourceType', '?')}/{r.get('id', '-')}"
    return type(r).__name__


def main(argv):
    if len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if len(argv) == 2:
            with open(argv[1], encoding="utf-8") as f:
                doc = json.load(f)
        else:
            doc = json.load(sys.stdin)
    except (OSError, ValueError) as e:
        print(f"validate_fhir: cannot read JSON: {e}", file=sys.stderr)
        return 2
    failed = 0
    count = 0
    for r in resources_of(doc):
        count += 1
        err = first_error(r)
        if err:
            failed += 1
            print(f"FAIL {label(r)}: {err}")
        else:
            print(f"ok {label(r)}")
    print(f"{count - failed} valid, {failed} invalid")
    return 1 if failed or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
