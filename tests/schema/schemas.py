# SPDX-License-Identifier: ISC
"""The two event schemas, loaded for python3-jsonschema (Debian 12: 4.10,
draft 2020-12), with formats checked."""

import json
import os

import jsonschema
from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EVE = os.path.join(ROOT, "schema", "events.schema.json")
ECS = os.path.join(ROOT, "schema", "ecs-events.schema.json")


def load(path):
    with open(path, encoding="utf-8") as fp:
        return json.load(fp)


def validators():
    """{"eve": validator, "ecs": validator}."""
    eve, ecs = load(EVE), load(ECS)
    store = {eve["$id"]: eve, ecs["$id"]: ecs}
    fc = Draft202012Validator.FORMAT_CHECKER
    out = {}
    for name, s in (("eve", eve), ("ecs", ecs)):
        resolver = jsonschema.RefResolver.from_schema(s, store=store)
        out[name] = Draft202012Validator(s, resolver=resolver,
                                         format_checker=fc)
    return out


def describe(err):
    """One line: where, and what is wrong, without the whole event."""
    path = "".join("[%d]" % p if isinstance(p, int) else "." + p
                   for p in err.absolute_path).lstrip(".") or "(event)"
    msg = err.message
    if msg.startswith("False schema"):
        msg = "not allowed here"
    if len(msg) > 160:
        msg = msg[:157] + "..."
    return "%s: %s" % (path, msg)


def first_error(validator, event):
    """The most useful error of the event as one line, or None."""
    errors = list(validator.iter_errors(event))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    return describe(best)
