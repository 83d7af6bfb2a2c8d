"""paper/references.csv: independent measurements with provenance, each beside a printed cell or a registry
checkpoint that exists, and consistent with what it stands beside."""

from __future__ import annotations

import re

import pytest

import paper
from measure.models.registry import by_key

REFS = paper.references()


def test_every_reference_has_provenance_and_a_setting():
    assert len(REFS) == 44
    for ref in REFS:
        assert ref.repository.count("/") == 1 and ref.file and re.fullmatch(r"[0-9a-f]{40}", ref.commit), ref
        assert ref.setting and ref.source and ref.unit == "%" and ref.metric == "top1", ref


def test_every_reference_stands_beside_a_printed_cell_or_a_registry_checkpoint_of_its_dataset():
    for ref in REFS:
        if ref.table:
            cell = paper.number(table=ref.table, row=ref.row, column=ref.column)
            assert (cell.dataset, cell.pretraining) == (ref.dataset, "imagenet21k"), ref
            assert abs(cell.value - ref.value) < 1.5, ref  # the same model and data: a transcription slip shows
        if ref.checkpoint:
            spec = by_key(ref.checkpoint)
            assert spec.finetuned_on == "imagenet" and ref.dataset in ("imagenet", "imagenet_real"), ref
            assert ref.note == f"row {spec.hub_id}", ref  # timm's row is the registry's tag
            if ref.table:
                assert spec.paper_model == ref.column and spec.resolution == 384, ref  # Table 5 is at 384


def test_the_readme_reruns_come_in_pairs_that_agree():
    runs: dict[tuple, list[float]] = {}
    for ref in paper.references(source="vision_transformer README (re-run)"):
        runs.setdefault((ref.table, ref.row, ref.column), []).append(ref.value)
    assert len(runs) == 12 + 2 and all(len(v) == 2 and abs(v[0] - v[1]) < 0.5 for v in runs.values())


def test_references_are_looked_up_by_the_cell_they_stand_beside():
    cell = paper.number(table="Table 2", row="CIFAR-100", column="Ours-I21k (ViT-L/16)")
    assert [r.value for r in paper.references(number=cell)] == [93.04, 93.0]
    assert paper.references(number=paper.number(table="Table 2", row="ImageNet", column="Ours-I21k (ViT-L/16)")) == []
    record = paper.references(checkpoint="bit_m_r152x4-i21k-ft_in1k-480", dataset="imagenet")[0].to_record()
    assert record["value"] == 84.916 and record["repository"] == "huggingface/pytorch-image-models"
    with pytest.raises(TypeError, match="unknown filter"):
        paper.references(model="ViT-B/16")
