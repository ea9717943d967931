#!/usr/bin/env python3
"""An independent evaluator of `filter.where`, written from the README's rules, for the
randomized comparison in WhereExpressionTests.

Reads JSON lines {"expr", "event_type", "created_at", "data" (JSON text)} on the file named by
argv[1] and prints one line per case: "true" or "false", or "error: …" when it cannot parse.
Numbers are Python Decimals (exact); nothing here shares code with the Swift implementation.
"""
import json
import re
import sys
from decimal import Decimal

MISSING = object()

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\d+)\])*)
""", re.X)
SEGMENT = re.compile(r"""\.([A-Za-z0-9_]+)|\[("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\d+)\]""")


def unquote(text):
    body = text[1:-1]
    if text[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    return json.loads('"' + body + '"')


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError("bad character at %d" % pos)
        pos = m.end()
        kind = m.lastgroup
        if kind != "space":
            tokens.append((kind, m.group()))
    tokens.append(("end", ""))
    return tokens


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, ahead=0):
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def word(self, w, ahead=0):
        return self.peek(ahead) == ("name", w)

    def parse(self):
        node = self.disjunction()
        if self.peek()[0] != "end":
            raise ValueError("trailing " + self.peek()[1])
        return node

    def disjunction(self):
        terms = [self.conjunction()]
        while self.word("or"):
            self.take()
            terms.append(self.conjunction())
        return ("or", terms) if len(terms) > 1 else terms[0]

    def conjunction(self):
        terms = [self.negation()]
        while self.word("and"):
            self.take()
            terms.append(self.negation())
        return ("and", terms) if len(terms) > 1 else terms[0]

    def negation(self):
        if self.word("not"):
            self.take()
            return ("not", self.negation())
        return self.comparison()

    def comparison(self):
        left = self.operand()
        if self.peek()[0] == "op":
            op = self.take()[1]
            return ("cmp", left, op, self.operand())
        if self.word("in") or (self.word("not") and self.word("in", 1)):
            negated = self.take()[1] == "not"
            if negated:
                self.take()
            items = self.items("[", "]")
            node = ("in", left, items)
            return ("not", node) if negated else node
        return left

    def items(self, open_, close):
        assert self.take() == ("punct", open_)
        items = []
        if self.peek() == ("punct", close):
            self.take()
            return items
        while True:
            items.append(self.operand())
            sep = self.take()
            if sep == ("punct", close):
                return items
            assert sep == ("punct", ","), sep

    def operand(self):
        kind, text = self.take()
        if kind == "number":
            return ("lit", Decimal(text))
        if kind == "string":
            return ("lit", unquote(text))
        if kind == "punct" and text == "(":
            node = self.disjunction()
            assert self.take() == ("punct", ")")
            return node
        if kind == "name":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text == "null":
                return ("lit", None)
            if self.peek() == ("punct", "("):
                return ("call", text, self.items("(", ")"))
            head = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text).group()
            keys = []
            for m in SEGMENT.finditer(text, len(head)):
                keys.append(m.group(1) if m.group(1) is not None else
                            (unquote(m.group(2)) if m.group(2)[0] in "\"'" else m.group(2)))
            return ("path", head, keys)
        raise ValueError("unexpected " + text)


def kind(v):
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def equal(a, b):
    if kind(a) != kind(b):
        return False
    k = kind(a)
    if k == "null":
        return True
    if k == "array":
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if k == "object":
        return set(a) == set(b) and all(equal(a[key], b[key]) for key in a)
    return a == b


def compare(a, op, b):
    if kind(a) != kind(b):
        return False
    if op == "==":
        return equal(a, b)
    if op == "!=":
        return not equal(a, b)
    if kind(a) not in ("number", "string"):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def lookup(event, head, keys):
    if head == "event_type":
        return event["event_type"]
    if head == "created_at":
        return event["created_at"]
    value = event["data"]
    for key in keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return MISSING
    return value


def value(node, event):
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "path":
        v = lookup(event, node[1], node[2])
        return None if v is MISSING else v
    return truth(node, event)


def truth(node, event):
    tag = node[0]
    if tag == "lit":
        return node[1] is True
    if tag == "path":
        return value(node, event) is True
    if tag == "cmp":
        return compare(value(node[1], event), node[2], value(node[3], event))
    if tag == "in":
        v = value(node[1], event)
        return any(equal(v, value(item, event)) for item in node[2])
    if tag == "not":
        return not truth(node[1], event)
    if tag == "and":
        return all(truth(t, event) for t in node[1])
    if tag == "or":
        return any(truth(t, event) for t in node[1])
    if tag == "call":
        name, args = node[1], node[2]
        found = lookup(event, args[0][1], args[0][2])
        if name == "exists":
            return found is not MISSING
        if name == "starts_with":
            return isinstance(found, str) and found.startswith(args[1][1])
    raise ValueError("bad node %r" % (node,))


def main():
    with open(sys.argv[1], encoding="utf-8") as cases:
        for line in cases:
            case = json.loads(line)
            event = {
                "event_type": case["event_type"],
                "created_at": case["created_at"],
                "data": json.loads(case["data"], parse_float=Decimal, parse_int=Decimal),
            }
            try:
                print("true" if truth(Parser(case["expr"]).parse(), event) else "false")
            except Exception as error:  # reported, compared as a mismatch
                print("error: %s" % error)


main()
