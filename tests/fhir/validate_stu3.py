#!/usr/bin/env python3
"""Validate FHIR STU3 JSON resources against the STU3 structure definitions.

Uses the STU3 models of the `fhir.resources` package (pydantic): every element name, cardinality,
primitive type and pattern (id, date, dateTime, instant, code, uri...) of the base STU3 resources.
GP Connect profile rules are asserted by the Rust tests, not here.

Usage: validate_stu3.py FILE... (or - for stdin). Each file holds one JSON resource; a Bundle's
entries are validated one by one (errors name the entry, its type and id), then the Bundle itself.
Exits 0 when everything is valid, 1 naming every invalid resource, 2 on a usage or setup problem.
"""

import json
import sys

try:
    from fhir.resources.STU3 import get_fhir_model_class
except ImportError as e:  # pragma: no cover - setup problem, not a validation result
    print(f"validate_stu3: the fhir.resources package (with STU3 models) is not installed: {e}",
          file=sys.stderr)
    sys.exit(2)


def check(resource, where, problems):
    """Validates one resource; appends a message per failure. Returns True when valid."""
    if not isinstance(resource, dict):
        problems.append(f"{where}: not a JSON object")
        return False
    resource_type = resource.get("resourceType")
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, TypeError):
        problems.append(f"{where}: '{resource_type}' is not an STU3 resource type")
        return False
    try:
        model.model_validate(resource)
    except Exception as e:  # pydantic.ValidationError and friends
        label = f"{where} {resource_type}/{resource.get('id', '(no id)')}"
        problems.append(f"{label}: {e}")
        return False
    return True


def validate_file(name, problems):
    try:
        text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
        resource = json.loads(text)
    except (OSError, ValueError) as e:
        problems.append(f"{name}: cannot read JSON: {e}")
        return 0
    count = 0
    if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
        entries_ok = True
        for i, entry in enumerate(resource.get("entry") or []):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            count += 1
            if not check(inner, f"{name}: Bundle.entry[{i}]", problems):
                entries_ok = False
        if entries_ok:
            count += 1
            check(resource, f"{name}: Bundle", problems)
    else:
        count += 1
        check(resource, name, problems)
    return count


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    count = sum(validate_file(name, problems) for name in argv[1:])
    for p in problems:
        print(p)
    if problems:
        print(f"validate_stu3: {len(problems)} of {count} resources are not valid STU3")
        return 1
    print(f"validate_stu3: {count} resources valid against FHIR STU3")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
