"""Validates a FHIR R4 Bundle (JSON on stdin) with the fhir.resources models: every entry is
parsed as its resource type, so an unknown element, a missing required one, a wrong type or a
malformed date fails. Checks too what the models do not: the specification version, FHIR JSON's
rule against empty values (no null, "", [] or {}: the models drop them silently), unique
fullUrls, and that every urn:uuid reference points at an entry of the Bundle. Prints the
Bundle as the models read it back (JSON); exits 1 with the reason otherwise."""

import json
import sys

import fhir.resources
from fhir.resources.bundle import Bundle


def references(value):
    """Every Reference.reference in a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def empties(value, path="Bundle"):
    """Paths of the null, "", [] and {} values in a JSON value."""
    if value is None or value == "" or value == [] or value == {}:
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from empties(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from empties(inner, f"{path}[{i}]")


def main():
    if fhir.resources.__fhir_version__ != "4.0.1":
        sys.exit(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")
    raw = sys.stdin.buffer.read()
    empty = list(empties(json.loads(raw)))
    if empty:
        sys.exit(f"empty values (FHIR JSON has none): {empty}")
    try:
        bundle = Bundle.parse_raw(raw, content_type="application/json", encoding="utf-8")
    except Exception as e:  # pydantic's ValidationError names every bad element
        sys.exit(f"not a valid FHIR R4 Bundle: {e}")
    data = json.loads(bundle.json())
    full_urls = [e["fullUrl"] for e in data.get("entry", [])]
    if len(full_urls) != len(set(full_urls)):
        sys.exit("two entries share a fullUrl")
    dangling = [r for r in references(data) if r.startswith("urn:uuid:") and r not in full_urls]
    if dangling:
        sys.exit(f"references to no entry: {dangling}")
    print(json.dumps(data, ensure_ascii=False))


main()
