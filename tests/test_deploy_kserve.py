"""`irgraph deploy kserve`: the InferenceService manifest written beside the Triton repository is
valid against KServe's InferenceService CRD schema (read here straight from the shipped file and
applied with jsonschema, independently of irgraph's validator) for the seed models; the repository
passes the Triton checks; bad options are refused before anything is written; and manifests
mutated in the ways the API server refuses (a wrong type, an unknown field, a missing required
field) fail irgraph's validation, so the check is shown to bite."""
from __future__ import annotations

import copy
import gzip
import json
import os
from fractions import Fraction

import jsonschema
import onnx
import pytest
import yaml
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2 as triton_schema

from examples.seed_models import k2_mlp
from irgraph.deploy import DeployError, KServeOptions, TritonOptions, check_manifest, check_repository, write_kserve
from irgraph.deploy.kserve import SCHEMA_FILE, build_manifest, parse_quantity
from irgraph.tools.cli import main as irgraph_main
from tests.test_deploy_triton import SEEDS, onnx_file, onnx_signature, read_config

PLACEHOLDER = "FILL-IN://uri-of-the-uploaded-repository"


def crd():
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as f:
        return json.load(f)


def raw_crd_errors(manifest) -> list[str]:
    """The CRD's own schema, unmodified, applied with jsonschema's draft 4 validator (OpenAPI 3.0)."""
    validator = jsonschema.Draft4Validator(crd()["openAPIV3Schema"])
    return [e.message for e in validator.iter_errors(manifest)]


def load_manifest(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_manifest_fits_the_crd_and_the_repository_fits_triton(seed, tmp_path):
    model = SEEDS[seed]()
    model_dir, manifest_path = write_kserve(model, tmp_path / "out", TritonOptions(name=seed, dynamic_batching=True))
    assert manifest_path == str(tmp_path / "out" / "inferenceservice.yaml")
    assert model_dir == str(tmp_path / "out" / "repository" / seed)
    manifest = load_manifest(manifest_path)
    assert raw_crd_errors(manifest) == []
    check_manifest(manifest)
    source = crd()
    assert manifest["apiVersion"] == f"{source['group']}/{source['version']}" == "serving.kserve.io/v1beta1"
    assert manifest["kind"] == "InferenceService"
    assert manifest["metadata"] == {"name": seed.replace("_", "-")}
    model_spec = manifest["spec"]["predictor"]["model"]
    assert model_spec["modelFormat"] == {"name": "onnx", "version": "1"}
    assert model_spec["runtime"] == "kserve-tritonserver" and model_spec["protocolVersion"] == "v2"
    assert model_spec["storageUri"] == PLACEHOLDER
    assert model_spec["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"},
                                       "limits": {"cpu": "1", "memory": "2Gi"}}
    text = open(manifest_path, encoding="utf-8").read()
    [uri_line] = [line for line in text.splitlines() if "storageUri:" in line]
    assert "# FILL IN" in uri_line
    assert f"/v2/models/{seed}/infer" in text and "upload ./repository" in text
    # the repository beside it: Triton's schema, matching the ONNX file
    assert check_repository(tmp_path / "out" / "repository") == [seed]
    config = read_config(model_dir)
    inputs, outputs = onnx_signature(os.path.join(model_dir, "1", "model.onnx"))
    assert [i.name for i in config.input] == list(inputs) and [o.name for o in config.output] == list(outputs)
    assert config.HasField("dynamic_batching")


def test_options_reach_the_manifest_and_the_repository(tmp_path):
    model_dir, manifest_path = write_kserve(
        k2_mlp().model, tmp_path, TritonOptions(name="digits", gpu=True, instances=2),
        KServeOptions(service_name="mnist-mlp", namespace="models", storage_uri="s3://bucket/digits/repository",
                      cpu="500m", memory="3Gi", cpu_limit="2", memory_limit="4Gi"))
    manifest = load_manifest(manifest_path)
    assert raw_crd_errors(manifest) == []
    assert manifest["metadata"] == {"name": "mnist-mlp", "namespace": "models"}
    model_spec = manifest["spec"]["predictor"]["model"]
    assert model_spec["storageUri"] == "s3://bucket/digits/repository"
    assert "FILL IN" not in open(manifest_path, encoding="utf-8").read().split("apiVersion")[1]
    assert model_spec["resources"] == {"requests": {"cpu": "500m", "memory": "3Gi"},
                                       "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}}
    config = read_config(model_dir)
    assert [(g.count, g.kind) for g in config.instance_group] == [(2, triton_schema.ModelInstanceGroup.KIND_GPU)]


def test_memory_default_grows_with_the_model():
    assert build_manifest("m", 10 << 20, KServeOptions(), False)["spec"]["predictor"]["model"]["resources"][
        "requests"]["memory"] == "2Gi"
    # 3 GiB of weights: 1 GiB for the server and twice the model
    resources = build_manifest("m", 3 << 30, KServeOptions(), False)["spec"]["predictor"]["model"]["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "7Gi"


@pytest.mark.parametrize("text, value", [("1", 1), ("500m", Fraction(1, 2)), ("1.5", Fraction(3, 2)),
                                         ("2Gi", 2 * 2**30), ("512Mi", 2**29), ("4G", 4 * 10**9),
                                         ("1e3", 1000), ("100k", 100_000), (".5", Fraction(1, 2)),
                                         ("2 GB", None), ("2gi", None), ("", None), ("1e400", None)])
def test_kubernetes_quantities(text, value):
    assert parse_quantity(text) == value


# ---------------------------------------------------------------------------------- refused before writing
@pytest.mark.parametrize("options, message", [
    (KServeOptions(memory="2 GB"), "requests.memory: '2 GB' is not a Kubernetes quantity"),
    (KServeOptions(cpu="one"), "requests.cpu: 'one' is not a Kubernetes quantity"),
    (KServeOptions(cpu="0"), "requests.cpu is 0; it must be more than 0"),
    (KServeOptions(cpu="2", cpu_limit="1500m"), "cpu limit 1500m is below its request 2"),
    (KServeOptions(memory="4Gi", memory_limit="4G"), "memory limit 4G is below its request 4Gi"),
    (KServeOptions(service_name="My_Model"), "metadata.name 'My_Model' is not an InferenceService name"),
    (KServeOptions(service_name="a" * 64), "at most 63 characters"),
    (KServeOptions(namespace="Prod"), "metadata.namespace 'Prod' is not a Kubernetes namespace name"),
    (KServeOptions(storage_uri="ftp://host/repository"), "storageUri 'ftp://host/repository' has a scheme"),
])
def test_bad_options_are_refused_before_writing(tmp_path, options, message):
    with pytest.raises(DeployError, match="does not fit KServe v0.20.0's InferenceService CRD") as err:
        write_kserve(k2_mlp().model, tmp_path / "out", TritonOptions(name="mlp"), options)
    assert message in str(err.value)
    assert not (tmp_path / "out").exists()


def test_every_problem_is_listed_at_once(tmp_path):
    with pytest.raises(DeployError) as err:
        write_kserve(k2_mlp().model, tmp_path / "out", TritonOptions(name="mlp"),
                     KServeOptions(service_name="9lives", cpu="x", storage_uri="ftp://h/r"))
    assert str(err.value).count("\n  - ") == 4  # the name, cpu request and limit, the storage URI
    assert not (tmp_path / "out").exists()


def test_cli_writes_both_and_refuses_bad_options(tmp_path, capsys):
    out = tmp_path / "out"
    assert irgraph_main(["deploy", "kserve", "examples.seed_models:k2_mlp", "-o", str(out), "--name", "mlp",
                         "--gpu", "--cpu", "2", "--memory", "4Gi", "--max-batch-size", "8",
                         "--dynamic-batching"]) == 0
    printed = capsys.readouterr().out
    assert "inferenceservice.yaml" in printed and "put its URI in storageUri" in printed
    manifest = load_manifest(out / "inferenceservice.yaml")
    check_manifest(manifest)
    assert manifest["spec"]["predictor"]["model"]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi",
                                                                           "nvidia.com/gpu": "1"}
    assert read_config(out / "repository" / "mlp").max_batch_size == 8
    with pytest.raises(SystemExit, match="cpu limit 1 is below its request 2"):
        irgraph_main(["deploy", "kserve", "examples.seed_models:k2_mlp", "-o", str(tmp_path / "other"),
                      "--cpu", "2", "--cpu-limit", "1"])
    assert not (tmp_path / "other").exists()


def test_model_triton_cannot_take_is_refused_before_writing(tmp_path):
    path = onnx_file(tmp_path, helper.make_tensor_type_proto(TensorProto.COMPLEX64, ["batch", 4]))
    with pytest.raises(DeployError, match="input 'x' has element type COMPLEX64"):
        write_kserve(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert onnx.load(path)  # the source is untouched


# ---------------------------------------------------------------------------------- the validator bites
def written_manifest(tmp_path):
    _, path = write_kserve(k2_mlp().model, tmp_path, TritonOptions(name="mlp"))
    return load_manifest(path)


def _set(path, value):
    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key]
        m[last] = value
    return change


def _delete(path):
    def change(m):
        *parents, last = path
        for key in parents:
            m = m[key]
        del m[last]
    return change


MODEL = ("spec", "predictor", "model")


@pytest.mark.parametrize("change, message, raw_crd_bites", [
    # wrong types
    (_set(MODEL + ("storageUri",), 5), "spec.predictor.model.storageUri: 5 is not of type 'string'", True),
    (_set(("spec", "predictor", "minReplicas"), "2"), "spec.predictor.minReplicas: '2' is not of type 'integer'",
     True),
    (_set(MODEL + ("resources", "limits"), ["1"]), "spec.predictor.model.resources.limits: ['1'] is not of type",
     True),
    (_set(("spec", "predictor", "model", "resources", "limits", "memory"), "lots"),
     "limits.memory: 'lots' is not a Kubernetes quantity", True),
    # unknown fields, which the API server refuses under strict field validation (kubectl's default)
    (_set(MODEL + ("runtim",), "kserve-tritonserver"), "('runtim' was unexpected)", False),
    (_set(("spec", "predictr"), {}), "('predictr' was unexpected)", False),
    (_set(("metadata", "nmae"), "x"), "('nmae' was unexpected)", False),
    # missing required fields
    (_delete(MODEL + ("modelFormat", "name")), "spec.predictor.model.modelFormat: 'name' is a required property",
     True),
    (_delete(("spec", "predictor")), "spec: 'predictor' is a required property", True),
    (_delete(("metadata",)), "'metadata' is a required property", False),
    # not this CRD
    (_set(("apiVersion",), "serving.kserve.io/v1alpha1"), "apiVersion: 'serving.kserve.io/v1alpha1' is not one of",
     False),
    (_set(("kind",), "InferenceGraph"), "kind: 'InferenceGraph' is not one of", False),
])
def test_mutated_manifest_fails_validation(tmp_path, change, message, raw_crd_bites):
    manifest = written_manifest(tmp_path)
    check_manifest(manifest)
    mutated = copy.deepcopy(manifest)
    change(mutated)
    with pytest.raises(DeployError) as err:
        check_manifest(mutated)
    assert message in str(err.value)
    # the CRD's schema alone already refuses wrong types and missing fields; unknown fields, the
    # group/version/kind and metadata are the API server's rules, which irgraph adds
    assert bool(raw_crd_errors(mutated)) == raw_crd_bites
