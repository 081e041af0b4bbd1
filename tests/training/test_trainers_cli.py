"""`sft | dpo | glpft | autoact-lora` subcommands: config files, flag overrides, the DPO command, errors."""

import argparse
import json
import shlex
from pathlib import Path

import pytest
from workforce_train.io import DataError
from workforce_train.trainers import cli, dpo

FIXTURES = Path(__file__).parent / "trainer_fixtures"
CONFIGS = Path(__file__).parents[2] / "training-jobs" / "configs"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_registers_the_four_subcommands():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    assert {"sft", "dpo", "glpft", "autoact-lora"} <= set(sub.choices)


def test_sft_config_file_with_flag_overrides(tmp_path, capsys):
    config = json.loads((CONFIGS / "owl_planner_sft.json").read_text())
    assert (config["max_length"], config["learning_rate"], config["epochs"], config["precision"]) == (
        32768,
        1e-5,
        2,
        "bf16",
    )  # the OWL paper's SFT settings
    assert (
        run(
            [
                "sft",
                "--config",
                str(CONFIGS / "owl_planner_sft.json"),
                "--model",
                "m",
                "--data",
                "d.jsonl",
                "--output-dir",
                str(tmp_path),
                "--lora",
                "--lora-r",
                "4",
                "--max-length",
                "128",
                "--dry-run",
            ]
        )
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["max_length"] == 128 and shown["learning_rate"] == 1e-5 and shown["deepspeed"] == "zero3"
    assert shown["lora"] == {"r": 4, "alpha": 16, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}


def test_sft_missing_settings_is_an_error():
    with pytest.raises(ValueError, match=r"missing settings \['data', 'output_dir'\]"):
        run(["sft", "--model", "m"])


def test_glpft_and_autoact_dry_runs(tmp_path, capsys):
    assert (
        run(
            [
                "glpft",
                "--config",
                str(CONFIGS / "alpha_umi_glpft.json"),
                "--model",
                "m",
                "--data-dir",
                str(FIXTURES / "glpft"),
                "--output-dir",
                str(tmp_path),
                "--dry-run",
            ]
        )
        == 0
    )
    stages = json.loads(capsys.readouterr().out)
    assert [s["stage"] for s in stages] == ["backbone", "planner", "caller", "summarizer"]
    assert stages[0]["deepspeed"] == "zero3" and stages[2]["data"] == [
        str(FIXTURES / "glpft" / "train_caller.json")
    ]

    assert (
        run(
            [
                "autoact-lora",
                "--model",
                "m",
                "--data-dir",
                str(FIXTURES / "autoact"),
                "--output-dir",
                str(tmp_path),
                "--agents",
                "reflect",
                "--dry-run",
            ]
        )
        == 0
    )
    (agent,) = json.loads(capsys.readouterr().out)
    assert agent["agent"] == "reflect" and agent["lora"]["target_modules"] == ["q_proj", "v_proj"]


def test_dpo_command_uses_the_pinned_openrlhf_flags(tmp_path, capsys):
    assert (
        run(
            [
                "dpo",
                "--config",
                str(CONFIGS / "owl_planner_dpo.json"),
                "--model",
                "/ckpt/sft",
                "--data",
                str(FIXTURES / "planner_dpo.jsonl"),
                "--output-dir",
                str(tmp_path),
                "--num-gpus",
                "8",
                "--dry-run",
            ]
        )
        == 0
    )
    cmd = shlex.split(capsys.readouterr().out)
    assert cmd[:4] == ["deepspeed", "--num_gpus=8", "--module", "openrlhf.cli.train_dpo"]
    flags = {a for a in cmd if a.startswith("--")}
    assert {
        "--model.model_name_or_path",
        "--data.dataset",
        "--model.beta",
        "--ds.zero_stage",
        "--ckpt.output_dir",
        "--data.apply_chat_template",
        "--ckpt.load_enable",
    } <= flags
    assert not flags & {
        "--pretrain",
        "--dataset",
        "--beta",
        "--zero_stage",
        "--save_path",
    }  # the pre-0.10.2 names
    assert cmd[cmd.index("--model.model_name_or_path") + 1] == "/ckpt/sft"
    assert cmd[cmd.index("--ckpt.path") + 1] == str(tmp_path / "checkpoints_dpo")


@pytest.mark.parametrize(
    "pair, message",
    [
        ({"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
          "rejected": [{"role": "user", "content": "other"}, {"role": "assistant", "content": "b"}]}, "same prompt"),
        ({"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
          "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}, "identical"),
        ({"chosen": "a", "rejected": "b"}, "list of at least two"),
    ],
)  # fmt: skip
def test_bad_dpo_pairs_are_rejected_before_launch(tmp_path, pair, message):
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps(pair) + "\n")
    with pytest.raises(DataError, match=f"pairs.jsonl: pair 1: .*{message}"):
        dpo.run_dpo(
            dpo.DPOConfig(model="m", data=[str(data)], output_dir=str(tmp_path / "out")), dry_run=True
        )


def test_dpo_refuses_an_environment_without_openrlhf():
    with pytest.raises(RuntimeError, match="OpenRLHF is not installed"):
        dpo.check_installed()  # the main environment has no OpenRLHF: it lives in .venv-openrlhf
