"""Running the CLI where importing the heavy optional packages fails: the check path
must never import them (DESIGN.md's performance contract)."""

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'onnx', 'pygls', 'rich', 'libcst'):
            raise ImportError('rflint check must not import ' + name)
        return None
sys.meta_path.insert(0, Block())
from rflint.cli import main
raise SystemExit(main(sys.argv[1:]))
"""
