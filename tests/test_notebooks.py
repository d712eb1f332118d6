"""The notebooks run for real: each jupytext py:percent file is read as a notebook and executed
cell by cell in a Jupyter kernel (nbclient + ipykernel), so a broken cell fails the suite."""

from pathlib import Path

import jupytext
import nbclient
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


def test_there_are_three_notebooks():
    assert [path.name for path in NOTEBOOKS] == ["01_explore_contacts.py", "02_error_analysis.py", "03_taxonomy_tuning.py"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_executes(path, tmp_path):
    notebook = jupytext.read(path)
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    assert sum(cell.cell_type == "markdown" for cell in notebook.cells) >= 3
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type == "execute_result" for o in outputs) >= 4  # the tables it exists to show
