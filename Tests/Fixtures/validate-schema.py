#!/usr/bin/env python3
"""Validates YAML pipeline files against a JSON Schema with the `jsonschema` package (2020-12).

usage: validate-schema.py SCHEMA FILE...
Prints `FILE: ok` or `FILE: invalid: <reason at path>` per file; exits 1 when any is invalid.
"""
import json
import sys

import jsonschema
import yaml


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failed = False
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        if errors:
            failed = True
            where = "/".join(str(p) for p in errors[0].absolute_path)
            print(f"{path}: invalid: {errors[0].message} at /{where}")
        else:
            print(f"{path}: ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
