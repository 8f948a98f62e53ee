"""DDP scripts: real 2-process launches on this CPU (gloo), checked against 1 process with twice the batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from course_utils.scripts import ddp_train, trainer_ddp

ROOT = Path(__file__).resolve().parent.parent
ATOL = 1e-5


def _run(cmd: list, nproc: int = 1, env: dict | None = None) -> str:
    """Run a command; return stdout. Retried once when a child process dies (torchrun's
    ChildFailedError, spawn's ProcessExitedException): one launch in about 15 did so under load
    (FACTS.md), the run after it passes."""
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // nproc)), **(env or {}))
    for attempt in (1, 2):
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=300)
        if proc.returncode == 0:
            return proc.stdout
        if attempt == 1 and ("ChildFailedError" in proc.stderr or "ProcessExitedException" in proc.stderr):
            continue
        pytest.fail(f"{cmd} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    raise AssertionError("unreachable")


def _torchrun(nproc: int, module: str, *args, env: dict | None = None) -> str:
    return _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            module,
            *args,
        ],
        nproc=nproc,
        env=env,
    )


def _max_diff(a: Path, b: Path) -> float:
    wa, wb = load_file(str(a)), load_file(str(b))
    assert sorted(wa) == sorted(wb)
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


@pytest.fixture
def clean_dist_env(monkeypatch):
    """In-process runs set the launcher variables (a group of one); remove them again afterwards."""
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    yield
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        os.environ.pop(name, None)


def test_two_processes_equal_one_process_with_twice_the_batch(tmp_path, clean_dist_env):
    common = ["--steps", "6", "--examples", "512", "--hidden", "64", "--seed", "0"]
    out = _torchrun(
        2,
        "course_utils.scripts.ddp_train",
        *common,
        "--batch-size",
        "32",
        "--check-equivalence",
        "--out",
        tmp_path / "ddp2.json",
        "--save-weights",
        tmp_path / "ddp2.safetensors",
    )
    assert out.count("[rank ") == 2
    summary = json.loads((tmp_path / "ddp2.json").read_text())
    assert summary["world_size"] == 2 and summary["backend"] == "gloo" and summary["global_batch"] == 64
    assert summary["ranks_identical"] and summary["max_abs_diff_across_ranks"] == 0.0
    assert summary["equivalence"]["equal"] and len(summary["equivalence"]["max_abs_diff_per_step"]) == 6
    assert summary["epochs_started"] == 1 and summary["steps"] == 6

    # One process with twice the batch, in this process (no launcher: a process group of one).
    ddp_train.main(
        [
            *common,
            "--batch-size",
            "64",
            "--out",
            str(tmp_path / "ddp1.json"),
            "--save-weights",
            str(tmp_path / "ddp1.safetensors"),
        ]
    )
    single = json.loads((tmp_path / "ddp1.json").read_text())
    assert single["world_size"] == 1 and single["global_batch"] == 64
    assert _max_diff(tmp_path / "ddp1.safetensors", tmp_path / "ddp2.safetensors") <= ATOL
    initial = ddp_train.make_model(64, 64, 4, 0)  # the script's defaults: 64 features, 4 classes
    trained = load_file(str(tmp_path / "ddp1.safetensors"))
    assert not torch.allclose(trained["0.weight"], initial[0].weight.detach())  # training did move them


def test_spawn_launcher_with_the_accelerate_engine(tmp_path):
    out = _run(
        [
            sys.executable,
            "-m",
            "course_utils.scripts.ddp_train",
            "--spawn",
            "2",
            "--engine",
            "accelerate",
            "--steps",
            "3",
            "--hidden",
            "32",
            "--check-equivalence",
            "--out",
            tmp_path / "spawn.json",
        ],
        nproc=2,
    )
    assert out.count("[rank ") == 2
    spawned = json.loads((tmp_path / "spawn.json").read_text())
    assert spawned["engine"] == "accelerate" and spawned["world_size"] == 2 and spawned["backend"] == "gloo"
    assert spawned["equivalence"]["equal"] and spawned["ranks_identical"]


@pytest.fixture
def offline_data_env():
    """Environment for the Trainer script: offline stand-ins and a local emotion mirror (never skipped)."""
    data = os.environ.get("COURSE_DATA_DIR") or str(ROOT.parent / "shared" / "data")
    if not (Path(data) / "emotion" / "train.jsonl").is_file():
        pytest.fail(
            "needs the emotion mirror: run `make data` or set COURSE_DATA_DIR to a folder "
            "with emotion/{train,validation,test}.jsonl"
        )
    return {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "COURSE_DATA_DIR": data}


def test_trainer_under_torchrun_matches_one_process(tmp_path, offline_data_env, clean_dist_env, monkeypatch):
    args = ["--exact", "--examples", "32", "--max-length", "16"]
    _torchrun(
        2,
        "course_utils.scripts.trainer_ddp",
        *args,
        "--batch-size",
        "4",
        "--out-dir",
        tmp_path / "two",
        "--save-weights",
        tmp_path / "two.safetensors",
        env=offline_data_env,
    )
    ranks = [json.loads((tmp_path / "two" / f"rank{r}.json").read_text()) for r in (0, 1)]
    for r in ranks:
        assert r["world_size_seen_by_trainer"] == 2 and r["parallel_mode"] == "distributed"
        assert r["world_size_without_use_cpu"] == 1  # the silent failure use_cpu=True avoids
        assert r["model_wrapped_in_ddp"] and r["optimizer_steps"] == 4
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]

    for name, value in offline_data_env.items():  # one process with twice the batch, in this process
        monkeypatch.setenv(name, value)
    one = trainer_ddp.main(
        [
            *args,
            "--batch-size",
            "8",
            "--out-dir",
            str(tmp_path / "one"),
            "--save-weights",
            str(tmp_path / "one.safetensors"),
        ]
    )
    assert one["world_size_seen_by_trainer"] == 1 and one["optimizer_steps"] == 4
    assert _max_diff(tmp_path / "one.safetensors", tmp_path / "two.safetensors") <= ATOL


def test_parse_args_rejects_bad_values():
    for bad in (
        ["--batch-size", "0"],
        ["--steps", "-1"],
        ["--lr", "0"],
        ["--classes", "1"],
        ["--spawn", "-2"],
        ["--engine", "horovod"],
    ):
        with pytest.raises(SystemExit):
            ddp_train.parse_args(bad)
    args = ddp_train.parse_args(["--batch-size", "8", "--check-equivalence"])
    assert args.batch_size == 8 and args.check_equivalence and args.engine == "ddp"
    with pytest.raises(SystemExit):
        trainer_ddp.parse_args(["--out-dir", "x", "--examples", "0"])
    assert trainer_ddp.parse_args(["--out-dir", "x", "--exact"]).lr == 0.05
    assert trainer_ddp.parse_args(["--out-dir", "x"]).lr == 5e-5


def test_make_dataset_and_model_are_seeded():
    a, b = ddp_train.make_dataset(100, 8, 3, seed=1), ddp_train.make_dataset(100, 8, 3, seed=1)
    assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    assert set(a.tensors[1].tolist()) <= {0, 1, 2} and a.tensors[0].shape == (100, 8)
    assert not torch.equal(a.tensors[0], ddp_train.make_dataset(100, 8, 3, seed=2).tensors[0])
    with pytest.raises(ValueError, match="n_classes"):
        ddp_train.make_dataset(10, 4, 1, seed=0)
    m1, m2 = ddp_train.make_model(8, 16, 3, seed=5), ddp_train.make_model(8, 16, 3, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))
    assert m1(torch.randn(2, 8)).shape == (2, 3)


def test_dist_env_reads_launcher_variables(monkeypatch):
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert ddp_train.dist_env() == (0, 0, 1)
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert ddp_train.dist_env() == (5, 1, 8)


def test_weights_hash_sees_any_change():
    model = ddp_train.make_model(4, 8, 2, seed=0)
    before = trainer_ddp.weights_hash(model)
    assert before == trainer_ddp.weights_hash(ddp_train.make_model(4, 8, 2, seed=0))
    with torch.no_grad():
        model[0].weight[0, 0] += 1e-6
    assert trainer_ddp.weights_hash(model) != before
