"""The report: every verdict of every stage on one self-contained page, failures first, every
plot embedded and grouped by stage; the same verdicts and plots in TensorBoard."""

import base64
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import tensorflow as tf

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.plots import new_figure, save_figure
from {{ cookiecutter.package_name }}.report import STAGES, write_report
from {{ cookiecutter.package_name }}.report.plots import baseline_scores
from {{ cookiecutter.package_name }}.verdicts import STATUSES, Verdict, read_verdicts, write_verdicts

PNG = b"\x89PNG\r\n\x1a\n"
BROWSER_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_report_in_browser.py"


def tiny_plot(run_dir: Path, name: str) -> str:
    fig, ax = new_figure(width=2, height=1.5)
    ax.plot([0, 1], [1, 0])
    return save_figure(fig, run_dir, name)


def write_run(run_dir: Path) -> None:
    """What the five stages leave: verdicts written by the project's own writer (the failures
    late in the file, so that the report has to reorder them), their plots, history.csv."""
    run_dir.mkdir(parents=True)
    write_verdicts(run_dir, "inspect", [
        Verdict("D1", "Split", "pass", {"train": 70}, {"train": 70}),
        Verdict("D3", "Duplicates | leakage", "warn", {"duplicate_groups": 2}, {"duplicate_groups": 0},
                advice="Remove the duplicates."),
        Verdict("D7", "Visualise just before the net", "pass", plots=[tiny_plot(run_dir, "D7_batch")]),
    ])
    write_verdicts(run_dir, "check", [
        Verdict("B1", "Dumb baseline", "info", {"val": {"loss": 2.3, "accuracy": 0.1},
                                                "test": {"loss": 2.3, "accuracy": 0.1}}),
        Verdict("B2", "Input-independent baseline", "pass", {"val_loss": 1.5, "control_val_loss": 2.25, "steps": 20}),
        Verdict("B3", "Simple model", "pass", {"val": {"loss": 0.4, "accuracy": 0.9}, "bar": "boosting", "references": {
            "linear": {"what": "ridge", "val": {"loss": 0.5, "accuracy": 0.85},
                       "test": {"loss": 0.52, "accuracy": 0.84}},
            "boosting": {"what": "boosting", "val": {"loss": 0.4, "accuracy": 0.9},
                         "test": {"loss": 0.41, "accuracy": 0.91}}}}),
        Verdict("B4", "Human baseline", "skip", advice="data.human_labels is not set"),
        Verdict("T1", "Overfit one batch", "pass", plots=[tiny_plot(run_dir, "T1_overfit_one_batch")]),
        Verdict("M1", "Loss at init", "fail", 9.9, 2.3, advice="Look at the output bias."),
        Verdict("T10", "Learning-rate range test", "warn", {"suggested": 1e-3},
                plots=[tiny_plot(run_dir, "T10_lr_range")]),
    ])
    write_verdicts(run_dir, "train", [
        Verdict("T3", "Training loss goes down", "pass", {"first_epoch": 2.0, "last_epoch": 1.0}),
        Verdict("T6", "Gradient health", "pass", plots=["plots/T6_gradient_norms.png"]),  # its file is gone
        Verdict("T11", "Prediction dynamics", "pass", plots=[tiny_plot(run_dir, "T11_prediction_dynamics")]),
        Verdict("T12", "First-layer weights", "fail", {"relative_change": 0.0},
                plots=[tiny_plot(run_dir, "T12_first_layer")], advice="The first layer did not move."),
    ])
    write_verdicts(run_dir, "evaluate", [
        Verdict("T13", "Full-set evaluation", "pass", {"scores": {"val": {"loss": 1.0, "accuracy": 0.7},
                                                                   "test": {"loss": 1.1, "accuracy": 0.68}}}),
        Verdict("B1", "Model beats the dumb baseline", "pass", {"model_val_loss": 1.0},
                {"below_baseline_val_loss": 2.3}),
        Verdict("B3", "Model beats the simple model", "warn", {"model_val_loss": 1.0},
                {"below_simple_model_val_loss": 0.4}, advice="Train longer."),
    ])
    write_verdicts(run_dir, "tune", [
        Verdict("O3", "Random search", "pass", {"trials": 2, "table": [{"lr": 0.001}] * 40},
                plots=[tiny_plot(run_dir, "O3_search")]),
    ])
    (run_dir / "history.csv").write_text("epoch,loss,val_loss\n0,2.0,2.1\n1,1.5,1.7\n2,1.0,1.4\n")
    tiny_plot(run_dir, "old_plot")  # no verdict refers to it


class Page(HTMLParser):
    """Rows, images, sections and figures of the report, in page order."""

    def __init__(self, text: str):
        super().__init__()
        self.rows, self.images, self.order = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "tr" and "verdict" in (found.get("class") or "").split():
            self.rows.append((found["data-stage"], found["data-id"], found["data-status"]))
        if tag == "img":
            self.images.append(found)
        if tag in ("section", "figure") and found.get("id"):
            self.order.append(found["id"])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("report") / "run"
    write_run(run_dir)
    made = write_report(run_dir)
    return run_dir, made, made.page.read_text(encoding="utf-8")


def test_every_verdict_has_its_row_with_failures_first(report):
    run_dir, made, text = report
    page = Page(text)
    written = read_verdicts(run_dir)
    assert sorted(page.rows) == sorted((v.stage, v.id, v.status) for v in written)
    ranks = [STATUSES.index(status) for _, _, status in page.rows]
    assert ranks == sorted(ranks)
    assert page.rows[:2] == [("check", "M1", "fail"), ("train", "T12", "fail")]  # stable within a status
    assert text.index("Look at the output bias.") < text.index("data.human_labels is not set")
    assert made.table.splitlines()[1].startswith("FAIL")
    assert "B4 (skip): data.human_labels is not set" in made.table  # a skip says why in the terminal too
    # info: a measurement that judges nothing, after the passes, counted and coloured apart
    assert ("check", "B1", "info") in page.rows and "INFO" in made.table and "1 info" in made.table
    assert '<span class="count" style="color:#1565c0">1 info</span>' in text


def test_every_image_is_an_embedded_png_of_a_plot_in_the_folder(report):
    run_dir, _, text = report
    images = Page(text).images
    on_disk = {f"plots/{p.name}" for p in (run_dir / "plots").glob("*.png")}
    assert {image["data-path"] for image in images} == on_disk
    assert {"plots/loss_curves.png", "plots/baselines_vs_model.png", "plots/old_plot.png"} <= on_disk
    for image in images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        assert base64.b64decode(image["src"][len(prefix):]) == (run_dir / image["data-path"]).read_bytes()
        assert (run_dir / image["data-path"]).read_bytes().startswith(PNG)
    assert "The plot file is missing: plots/T6_gradient_norms.png" in text


def test_plots_are_grouped_by_stage_and_captioned_with_their_verdicts(report):
    _, _, text = report
    order = Page(text).order
    sections = [entry for entry in order if entry.startswith("plots-")]
    assert sections == [f"plots-{stage}" for stage in STAGES] + ["plots-other"]

    def section_of(figure: str) -> str:
        return next(s for s in reversed(order[: order.index(figure)]) if s.startswith("plots-"))

    assert section_of("fig-plots-D7_batch-png") == "plots-inspect"
    assert section_of("fig-plots-T10_lr_range-png") == "plots-check"
    assert section_of("fig-plots-loss_curves-png") == "plots-train"
    assert section_of("fig-plots-baselines_vs_model-png") == "plots-evaluate"
    assert section_of("fig-plots-O3_search-png") == "plots-tune"
    assert section_of("fig-plots-old_plot-png") == "plots-other"
    baselines = re.search(r'<figure id="fig-plots-baselines_vs_model-png".*?</figure>', text, re.S).group(0)
    assert "Model beats the simple model" in baselines and "Model beats the dumb baseline" in baselines
    figure = re.search(r'<figure id="fig-plots-T10_lr_range-png".*?</figure>', text, re.S).group(0)
    assert "<b>T10</b> Learning-rate range test" in figure and "WARN" in figure
    assert 'href="#fig-plots-T10_lr_range-png"' in text  # the row links to its plot


def test_the_page_leaves_no_placeholder_unfilled(report):
    _, _, text = report
    body = re.sub(r'src="data:[^"]*"', "", text.split("</style>", 1)[1])  # base64 may spell anything
    assert not re.search(r"\{[A-Za-z_][\w.]*\}|\{\{\s|\{[%]|\bNone\b|\bnan\b", body)  # f-string, template, Python
    assert body.count("<figure") == body.count("</figure>")


def test_baselines_plot_compares_the_recorded_numbers():
    verdicts = [
        Verdict("B1", "Dumb baseline", "pass", {"val": {"loss": 2.3, "accuracy": 0.1}}, stage="check"),
        Verdict("B3", "Simple model", "pass", {"val": {"loss": 0.4, "accuracy": 0.9}}, stage="check"),
        Verdict("T13", "Full-set evaluation", "pass", {"scores": {"val": {"loss": "nan", "accuracy": 0.7}}},
                stage="evaluate"),
    ]
    losses, metric, metrics = baseline_scores(verdicts)
    assert [(b.label, b.value) for b in losses] == [("priors (B1)", 2.3), ("linear model (B3)", 0.4)]  # NaN left out
    assert metric == "accuracy"
    assert [b.value for b in metrics] == [0.1, 0.9, 0.7] and [b.model for b in metrics] == [False, False, True]


def test_the_page_opens_with_the_test_scores_of_the_model_and_its_references(report):
    _, _, page = report
    first = page[page.index("<h1>"):page.index('<p class="meta">')]
    assert "Test split:" in first
    for shown in ("trained model: loss 1.1, accuracy 0.68", "priors (B1): loss 2.3", "linear model (B3): loss 0.52",
                  "gradient boosting (B3): loss 0.41, accuracy 0.91"):
        assert shown in first, first
    losses, _, _ = baseline_scores(read_verdicts(report[0]))
    assert ("gradient boosting (B3)", 0.4) in [(b.label, b.value) for b in losses]


def read_events(log_dir: Path) -> dict[str, list]:
    values: dict[str, list] = {}
    for path in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                values.setdefault(value.tag, []).append(value)
    return values


def test_tensorboard_holds_the_verdict_table_counts_and_every_plot(report):
    run_dir, made, _ = report
    assert made.tensorboard == run_dir / "tensorboard" / "report"
    events = read_events(made.tensorboard)
    (text,) = events["verdicts"]
    assert text.metadata.plugin_data.plugin_name == "text"
    table = tf.make_ndarray(text.tensor).item().decode()
    assert all(f"| {v.id} | {v.stage} |" in table for v in read_verdicts(run_dir))
    assert "Duplicates \\| leakage" in table  # a pipe inside a cell does not split it
    assert tf.make_ndarray(events["verdicts/fail"][0].tensor).item() == 2
    images = {tag: values for tag, values in events.items() if values[0].metadata.plugin_data.plugin_name == "images"}
    assert set(images) >= {"inspect/D7_batch", "check/T10_lr_range", "train/loss_curves",
                           "train/T11_prediction_dynamics", "train/T12_first_layer", "evaluate/baselines_vs_model",
                           "tune/O3_search", "other/old_plot"}
    width, height, png = tf.make_ndarray(images["check/T10_lr_range"][0].tensor)
    assert png.startswith(PNG) and int(width) > 0 and int(height) > 0


def test_writing_the_report_again_replaces_it(tmp_path):
    write_run(tmp_path / "run")
    write_report(tmp_path / "run")
    (tmp_path / "run" / "history.csv").unlink()
    made = write_report(tmp_path / "run")
    assert len(list(made.tensorboard.glob("events.out.tfevents.*"))) == 1
    assert not (tmp_path / "run" / "plots" / "loss_curves.png").exists()  # no history, no stale curves
    assert "train/loss_curves" not in read_events(made.tensorboard)


def test_a_folder_without_verdicts_is_a_user_error(tmp_path, capsys):
    with pytest.raises(UserError, match="holds no verdicts"):
        write_report(tmp_path)
    assert main(["report", "--run-dir", str(tmp_path / "new")]) == 2
    assert "holds no verdicts" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_report_of_a_real_inspect_run(in_tmp, capsys):
    assert main(["inspect", "--run-dir", "runs/r"]) == 0
    assert main(["report", "--run-dir", "runs/r"]) == 0
    out = capsys.readouterr().out
    assert "report: runs/r/report.html" in out and "tensorboard --logdir" in out
    text = Path("runs/r/report.html").read_text(encoding="utf-8")
    assert "stages not run in this folder: <code>check</code>, <code>train</code>" in text
    page = Page(text)
    assert {i for _, i, _ in page.rows} >= {"D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9"}
    assert "plots/D7_batch.png" in {image["data-path"] for image in page.images}
    assert "inspect/D7_batch" in read_events(Path("runs/r/tensorboard/report"))


def load_browser_script():
    spec = importlib.util.spec_from_file_location("check_report_in_browser", BROWSER_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_browser_check_finds_what_a_page_lacks(report):
    """The DOM check of scripts/check_report_in_browser.py, on the page as written (Chromium's
    DOM of a page without scripts holds the same elements) and on a page with faults."""
    script = load_browser_script()
    run_dir, _, text = report
    verdicts = script.expected_verdicts(run_dir)

    def faults(html_text: str) -> list[str]:
        page = script.RenderedPage()
        page.feed(html_text)
        return script.page_faults(page, verdicts, run_dir)

    assert faults(text) == []
    without_t12 = re.sub(r'<tr class="verdict fail" data-id="T12".*?</tr>', "", text, flags=re.S)
    assert faults(without_t12) == ["verdict T12 of stage train (fail) has no row in the rendered page"]
    m1 = re.search(r'<tr class="verdict fail" data-id="M1".*?</tr>', text, re.S).group(0)
    assert any("out of order" in f for f in faults(text.replace(m1, "").replace("</tbody>", m1 + "</tbody>")))
    assert any("plots/T10_lr_range.png" in f for f in faults(text.replace('data-path="plots/T10_lr_range.png"', "")))


def test_browser_check_says_when_chromium_is_missing(report, capsys):
    run_dir, _, _ = report
    assert load_browser_script().main([str(run_dir), "--chromium", "no-such-browser-here"]) == 2
    assert "no-such-browser-here" in capsys.readouterr().err


def test_cells_read_as_words_with_the_full_record_one_click_away(tmp_path):
    """Measured and expected as `key: value` lines, numbers to 3 significant figures, lists cut
    with a count; the page keeps the whole record in a <details>, the terminal the same words."""
    from {{ cookiecutter.package_name }}.describe import lines
    from {{ cookiecutter.package_name }}.report import terminal_table

    measured = {"val_loss": 1.4757512, "control_val_loss": 2.30125, "steps": 1200, "tiny": 3.2e-7,
                "examples": {"train": 1285, "val": 342}, "labels": [str(i) for i in range(10)]}
    assert lines(measured) == ["val loss: 1.48", "control val loss: 2.3", "steps: 1,200", "tiny: 3.2e-07",
                               "examples: train=1,285, val=342", "labels: 0, 1, 2, 3, 4, 5 (+4 more)"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_verdicts(run_dir, "check", [Verdict("B2", "Input-independent baseline", "pass", measured, "ratio <= 0.9")])
    page = write_report(run_dir).page.read_text()
    cell = re.search(r'<div class="words">val loss: 1.48<br>control val loss: 2.3<br>.*?</details>', page, re.S)
    assert cell and "<summary>full record</summary>" in cell.group() and "1.4757512" in cell.group()
    assert "{&quot;val_loss&quot;" not in page.split("<details>")[0]  # no raw JSON outside the details
    table = terminal_table(read_verdicts(run_dir))
    assert "val loss: 1.48; control val loss: 2.3;" in table and '"val_loss"' not in table
