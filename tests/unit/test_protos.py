"""The generated protobuf modules are what `make protos` makes from protos/ now."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generated_code_is_not_stale(tmp_path):
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    fresh = {p.name: p.read_bytes() for p in gen.generate(tmp_path)}
    committed = {p.name: p.read_bytes() for p in (ROOT / "services" / "workforce" / "v1").glob("*.py*")}
    stale = sorted(name for name in fresh if committed.get(name) != fresh[name])
    assert not stale, f"run `make protos`: stale generated files {stale}"
    extra = sorted(set(committed) - set(fresh))
    assert not extra, f"generated files without a .proto: {extra}"
