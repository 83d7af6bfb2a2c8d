"""The arithmetic a derived value's formula may use (+ − × / **, parentheses, numbers, bound names), evaluated by
walking its syntax tree: nothing else is evaluated."""

from __future__ import annotations

import ast

from paper.printed import PaperDataError

_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
              ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def evaluate_formula(formula: str, values: dict[str, float]) -> float:
    """Arithmetic (+ − × / **, parentheses, numbers, names bound in ``values``) — nothing else is evaluated."""
    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise PaperDataError(f"formula {formula!r} uses {node.id!r}, which its inputs do not bind")
            return float(values[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise PaperDataError(f"formula {formula!r}: {ast.dump(node)[:60]} is not plain arithmetic")

    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise PaperDataError(f"formula {formula!r} does not parse: {exc.msg}") from None
    return walk(tree)
