"""The pure parts of the benchmarks' new figures: CPU and machine floors, process CPU, the queue estimate check,
and the Markdown table of docs/sessions.md."""

from __future__ import annotations

import json
import os

import pytest

from bench.__main__ import parse_args
from bench.burst import add_machine_floors, combine
from bench.cpu import cpu_floor_s, multiple_of, process_cpu_s
from bench.estimate import queue_estimate
from bench.report import markdown_table, write


def test_cpu_floor_spreads_every_servers_cpu_over_the_cores():
    assert cpu_floor_s(30, 1.3, 2) == pytest.approx(19.5)
    assert cpu_floor_s(60, 1.3, 4) == pytest.approx(19.5)
    assert cpu_floor_s(30, None, 2) is None and cpu_floor_s(0, 1.3, 2) is None and cpu_floor_s(30, 1.3, 0) is None


def test_a_time_as_a_multiple_of_the_floor():
    assert multiple_of(29.25, 19.5) == pytest.approx(1.5)
    assert multiple_of(None, 19.5) is None and multiple_of(10, None) is None and multiple_of(10, 0) is None


def test_process_cpu_grows_with_work_done():
    before = process_cpu_s(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert process_cpu_s(os.getpid()) > before >= 0


def event(message: str, progress: int = 5) -> dict:
    return {"progress": progress, "message": message}


def test_the_first_estimate_shown_is_checked_against_the_wait_from_that_moment():
    events = [(0.2, event("Server requested", 0)),
              (10.0, event("Waiting in line to start: position 26, about 40 s")),
              (13.0, event("Waiting in line to start: position 24, about 30 s")),
              (60.0, event("Starting your CPU · TensorFlow container", 50)),
              (63.0, {"progress": 100, "ready": True, "message": "Server ready"})]
    found = queue_estimate(events)
    first = {"position": 26, "estimate_s": 40.0, "real_wait_s": 50.0, "told_at_s": 10.0, "error": pytest.approx(-0.2)}
    assert {k: v for k, v in found.items() if k != "track"} == first
    assert found["track"] == [first, {"position": 24, "estimate_s": 30.0, "real_wait_s": 47.0, "told_at_s": 13.0,
                                      "error": pytest.approx(30 / 47 - 1)}]


def test_no_estimate_when_the_user_never_waited_or_never_left_the_line():
    assert queue_estimate([(0.1, event("Server requested", 0)), (2.0, event("Starting your container", 50))]) is None
    assert queue_estimate([(1.0, event("Waiting in line to start: position 3, about 9 s"))]) is None
    assert queue_estimate([]) is None


def test_leaving_the_line_straight_to_ready_counts_as_the_end_of_the_wait():
    found = queue_estimate([(1.0, event("Waiting in line to start: position 1, about 4 s")),
                            (5.0, {"progress": 100, "ready": True, "message": "Server ready"})])
    assert found["real_wait_s"] == 4.0 and found["error"] == 0.0


def burst_result() -> dict:
    def side(ready, p50, p95, cpu, hub, **extra):
        return {"30": {"spawns": 30, "succeeded": ready, "seconds_to_ready": {"p50": p50, "p95": p95},
                       "start_cpu_s": {"p50": cpu}, "hub_cpu_s_per_spawn": hub, **extra}}
    return {"labhub": side(30, 20.0, 28.0, 1.6, 0.05, cpu_floor_s=19.5, p95_over_cpu_floor=28 / 19.5,
                           queue_estimate_last_user={"estimate_s": 22.0, "real_wait_s": 20.0},
                           machine_cpu_s_per_spawn=2.1, machine_idle_share=0.05, machine_floor_s=31.5,
                           p95_over_machine_floor=28 / 31.5, p95_over_tuned_machine_floor=28 / 60.0),
            "stock-tuned": side(30, 60.0, 75.0, 3.4, 0.09, machine_floor_s=60.0, p95_over_machine_floor=1.25),
            "stock": side(0, None, None, None, 0.08),
            "settings": {"burst_sizes": [30, 60], "plain_server": {"median_cpu_s": 1.3}}}


def test_markdown_table_from_the_results_of_a_run(tmp_path):
    write("burst", burst_result(), started_at=0, duration_s=1, results_dir=tmp_path)
    write("spawn_latency", {"labhub": {"seconds_to_ready": {"p50": 2.1, "p95": 2.6}},
                            "stock": {"seconds_to_ready": {"p50": 3.0, "p95": 3.5}}}, 0, 1, results_dir=tmp_path)
    write("warmup", {"labhub": {"available": True, "users": 30, "login_to_lab_s": {"p50": 1.2, "max": 2.4},
                                "machine_cpu_s_per_user": 0.4, "bcrypt_check_cpu_s": 0.28, "password_work_factor": 12,
                                "login_floor_s": 6.0, "max_over_login_floor": 0.4}},
          0, 1, results_dir=tmp_path)
    assert "stock-tuned" in json.loads((tmp_path / "burst.json").read_text())
    lines = markdown_table(tmp_path).splitlines()
    assert lines[0] == "| figure | labhub | stock-tuned | stock |"
    assert "| burst 30: ready | 30 of 30 | 30 of 30 | 0 of 30 |" in lines
    assert "| burst 30: p50 / p95 to ready | 20.0 s / 28.0 s | 60.0 s / 75.0 s | - / - |" in lines
    assert "| burst 30: start CPU per server (p50) | 1.60 CPU-s | 3.40 CPU-s | - |" in lines
    assert "| burst 30: machine CPU per spawn, all told; idle | 2.10 CPU-s; 5 % | - | - |" in lines
    assert "| burst 30: CPU floor; labhub p95 / floor | 19.5 s; 1.44 x | - | - |" in lines
    assert "| burst 30: machine floor; p95 / it | 31.5 s; 0.89 x | 60.0 s; 1.25 x | - |" in lines
    assert "| burst 30: labhub p95 / stock-tuned's machine floor | 0.47 x | - | - |" in lines
    assert "| burst 30: last user's estimate / real wait | 22 s / 20 s | - | - |" in lines
    assert "| burst 60 | not run | not run | not run |" in lines
    assert "| single spawn: p50 / p95 | 2.1 s / 2.6 s | - | 3.0 s / 3.5 s |" in lines
    assert "| warm-up of 30: login to lab p50 / max | 1.2 s / 2.4 s | - | - |" in lines
    assert ("| warm-up: machine CPU per user (bcrypt at work factor 12); login floor; max / floor | "
            "0.40 CPU-s (0.28 CPU-s); 6.0 s; 0.40 x | - | - |") in lines


def test_machine_floors_count_what_a_start_costs_the_whole_machine():
    def entry(p95, machine):
        return {"seconds_to_ready": {"p95": p95}, "machine_cpu_s_per_spawn": machine}
    lab, tuned, stock = entry(37.0, 2.4), entry(38.0, 2.3), entry(None, 2.2)
    add_machine_floors(30, 2, lab, tuned, stock)
    assert lab["machine_floor_s"] == pytest.approx(36.0) and lab["p95_over_machine_floor"] == pytest.approx(37 / 36)
    assert tuned["machine_floor_s"] == pytest.approx(34.5)
    # labhub held to what the same starts cost under the stock hub, not to its own (possibly dearer) starts.
    assert lab["p95_over_tuned_machine_floor"] == pytest.approx(37 / 34.5)
    # A hub whose bursts never got ready has a floor but no multiple of it.
    assert stock["machine_floor_s"] == pytest.approx(33.0) and stock["p95_over_machine_floor"] is None


def test_markdown_table_says_what_was_not_run(tmp_path):
    write("warmup", {"labhub": {"available": False, "reason": "not available: POST answered 404"}}, 0, 1,
          results_dir=tmp_path)
    text = markdown_table(tmp_path)
    assert "| bursts | not run | not run | not run |" in text
    assert "| single spawn | not run | | not run |" in text
    assert "| warm-up of 30: login to lab | not available: POST answered 404 | | |" in text


def burst_round(p50, p95, machine, error, errors=None, ready=30):
    return {"spawns": 30, "succeeded": ready, "success_rate": ready / 30, "errors": errors or {},
            "seconds_to_ready": {"n": ready, "p50": p50, "p95": p95, "mean": p50, "min": 2.0, "max": p95 + 1},
            "start_cpu_s": {"n": ready, "p50": 1.7, "p95": 2.0, "mean": 1.7, "min": 1.5, "max": 2.1},
            "hub_cpu_s": 4.5, "hub_cpu_s_per_spawn": 0.15, "wall_s": p95 + 2, "machine_cpu_s_per_spawn": machine,
            "machine_idle_share": 0.05,
            "queue_estimate_last_user": None if error is None else
            {"estimate_s": 30.0, "real_wait_s": 30.0 / (1 + error), "error": error}}


def test_rounds_of_a_burst_combine_into_medians_and_keep_each_round():
    rounds = [burst_round(20.0, 40.0, 2.5, 0.28, {"timeout": 1}, ready=29), burst_round(24.0, 36.0, 2.3, -0.11),
              burst_round(22.0, 44.0, 2.9, 0.05)]
    entry = combine(rounds)
    assert entry["spawns"] == 90 and entry["succeeded"] == 89 and entry["success_rate"] == pytest.approx(89 / 90)
    assert entry["errors"] == {"timeout": 1}
    assert entry["seconds_to_ready"]["p50"] == 22.0 and entry["seconds_to_ready"]["p95"] == 40.0
    assert entry["seconds_to_ready"]["n"] == 89
    assert entry["machine_cpu_s_per_spawn"] == 2.5 and entry["wall_s"] == 42.0
    # The estimate shown is the round with the median error, not the kindest one.
    assert entry["queue_estimate_last_user"]["error"] == 0.05
    assert entry["rounds"] == rounds
    assert combine(rounds[:1]) is rounds[0]  # one round: its figures as they are


def test_rounds_without_an_estimate_leave_it_out_of_the_median():
    entry = combine([burst_round(20.0, 40.0, 2.5, None), burst_round(21.0, 41.0, 2.6, 0.2)])
    assert entry["queue_estimate_last_user"]["error"] == 0.2
    assert combine([burst_round(20.0, 40.0, 2.5, None)] * 2)["queue_estimate_last_user"] is None


def test_burst_rounds_must_be_at_least_one(capsys):
    assert parse_args(["--burst-rounds", "3"]).burst_rounds == 3
    assert parse_args([]).burst_rounds == 1
    with pytest.raises(SystemExit):
        parse_args(["--burst-rounds", "0"])
    assert "--burst-rounds" in capsys.readouterr().err


def test_markdown_table_says_how_many_rounds_and_each_rounds_estimate(tmp_path):
    result = burst_result()
    rounds = [burst_round(20.0, 28.0, 2.1, 0.1), burst_round(21.0, 30.0, 2.2, -0.2), burst_round(19.0, 27.0, 2.0, 0.25)]
    result["labhub"]["30"]["rounds"] = rounds
    result["stock-tuned"]["30"]["rounds"] = rounds
    write("burst", result, started_at=0, duration_s=1, results_dir=tmp_path)
    lines = markdown_table(tmp_path).splitlines()
    assert "| burst 30: rounds (the figures below are their medians) | 3 | 3 | - |" in lines
    assert "| burst 30: last user's estimate / real wait | 22 s / 20 s (rounds: +10 %, -20 %, +25 %) | - | - |" in lines
