"""The fitting benchmark's table and command line (the fitting itself is not run here)."""

from hoifit.benchmark import describe_inputs, format_results
from reconstruction.evaluation import METRIC_KEYS
from scripts import benchmark_fit


def fake_results():
    row = dict.fromkeys(METRIC_KEYS)
    row.update(median_s=12.5, tilt_deg=3.25, count=2, failed=0, inputs="photo, depth mono")
    return {"fast": {"low": row}}


def test_table_has_a_row_per_metric_under_the_inputs_line():
    lines = format_results(fake_results(), "INPUTS").splitlines()
    assert lines[0] == "inputs: INPUTS"
    assert lines[1].split() == ["median", "of", "fast/low"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert set(rows) == {"median_s", *METRIC_KEYS, "count", "failed"}
    assert rows["median_s"] == "12.500" and rows["tilt_deg"] == "3.250"
    assert rows["rot_err_sym_deg"] == "-" and rows["count"] == "2"


def test_inputs_line_names_what_the_fitting_was_given():
    assert "near-true" in describe_inputs("near_true", "mono")
    photo = describe_inputs("photo", "none")
    assert "no body init" in photo and "no contact" in photo and "depth none" in photo
    assert "monocular" in describe_inputs("photo", "mono")
    assert "floor included" in describe_inputs("photo", "mono_floor")


def test_command_line_passes_the_protocol(monkeypatch, capsys):
    calls = []

    def run(*args, **kwargs):
        calls.append((args, kwargs))
        return fake_results()

    monkeypatch.setattr(benchmark_fit, "run_benchmark", run)
    argv = ["--protocol", "photo", "--depth", "none", "--seed", "3", "--count", "2"]
    assert benchmark_fit.main([*argv, "--presets", "fast", "--noise", "low"]) == 0
    ((args, kwargs),) = calls
    assert args[1:] == (2, ["fast"], ["low"], 3)
    assert (kwargs["protocol"], kwargs["depth"]) == ("photo", "none")
    assert capsys.readouterr().out.startswith("inputs: photo protocol")
