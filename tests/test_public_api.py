import subprocess
import sys


def test_every_public_name_resolves():
    import gradstep

    for name in gradstep.__all__:
        assert getattr(gradstep, name) is not None, name
    assert set(gradstep.__all__) <= set(dir(gradstep))


def test_star_import_works_in_a_fresh_process():
    code = "from gradstep import *; print(fit.__name__, GDRegressor.__name__, Trainer.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["fit", "GDRegressor", "Trainer"]


def test_committed_api_reference_is_up_to_date():
    from conftest import generated_doc_is_current

    generated_doc_is_current("gen_api_docs", "api.md")
