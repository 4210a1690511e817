"""KServe InferenceService manifests for Triton model repositories.

``write_kserve(source, directory, TritonOptions(...), KServeOptions(...))`` writes
``directory/repository/NAME/...`` (the Triton model repository of `irgraph.deploy.triton`) and
``directory/inferenceservice.yaml``: a ``serving.kserve.io/v1beta1`` InferenceService whose
predictor runs that repository with KServe's Triton runtime (model format ``onnx``, protocol v2).
Before anything is written, the manifest is validated against the OpenAPI v3 schema of KServe's
InferenceService CRD (shipped in ``schemas/``; see ``schemas/README.md`` for its source) with the
API server's rules for unknown fields, and against the rules KServe and Kubernetes add outside the
schema (the service name, resource quantities, limits not below requests, storage URI schemes).
"""
from __future__ import annotations

import functools
import gzip
import json
import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction

from .source import DeployError
from .triton import TritonOptions, prepare, write_prepared

MANIFEST_FILE = "inferenceservice.yaml"
REPOSITORY_DIR = "repository"
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "schemas", "kserve-inferenceservice-v1beta1.json.gz")
RUNTIME = "kserve-tritonserver"  # KServe's ClusterServingRuntime for Triton; it lists onnx version 1
STORAGE_URI_PLACEHOLDER = "FILL-IN://uri-of-the-uploaded-repository"
# the schemes KServe's storage initializer downloads (SupportedStorageURIPrefixList in KServe v0.20);
# a URI with another scheme is refused, one without a scheme is a local path
STORAGE_SCHEMES = ("gs://", "s3://", "pvc://", "file://", "https://", "http://", "hdfs://", "webhdfs://",
                   "oci://", "oci+native://", "oci+fetch://", "hf://")
# KServe's webhook: InferenceService names (IsvcNameFmt); Kubernetes: namespaces are DNS-1123 labels
SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MAX = 63
DEFAULT_CPU = "1"
MIN_MEMORY_GIB = 2  # KServe's Triton runtime asks for 2Gi by default


@dataclass
class KServeOptions:
    service_name: str | None = None    # the InferenceService's name; default: the model's, made DNS-safe
    namespace: str | None = None       # default: none written (kubectl's current namespace)
    storage_uri: str | None = None     # default: a placeholder the user fills in
    cpu: str = DEFAULT_CPU             # CPU request
    memory: str | None = None          # memory request; default: 2Gi, more for large models
    cpu_limit: str | None = None       # default: the request
    memory_limit: str | None = None    # default: the request


# ------------------------------------------------------------------------------------------- schema
@functools.lru_cache(maxsize=1)
def crd_schema() -> dict:
    """KServe's InferenceService CRD: ``group``, ``version``, ``kind``, ``openAPIV3Schema``, ``source``."""
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as f:
        return json.load(f)


def _object_meta_schema() -> dict:
    """ObjectMeta's fields this manifest may carry (the CRD leaves metadata to the API server; the
    name and namespace rules are checked in `check_manifest`, with messages of their own)."""
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    return {"type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                           "labels": string_map, "annotations": string_map}}


@functools.lru_cache(maxsize=1)
def validation_schema() -> dict:
    """The CRD's schema as the API server applies it under strict field validation (kubectl's
    default): a field not among an object's ``properties`` is an error unless the object is a map
    (``additionalProperties``) or keeps unknown fields (``x-kubernetes-preserve-unknown-fields``);
    ``apiVersion`` and ``kind`` are the CRD's; metadata is ObjectMeta. Walked with an explicit stack."""
    crd = crd_schema()
    schema = json.loads(json.dumps(crd["openAPIV3Schema"]))  # a copy to annotate
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        for key, value in node.items():
            if key == "properties":
                stack.extend(value.values())
            elif key not in ("enum", "default", "required") and isinstance(value, (dict, list)):
                stack.append(value)
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    schema["properties"]["apiVersion"] = {"type": "string", "enum": [f"{crd['group']}/{crd['version']}"]}
    schema["properties"]["kind"] = {"type": "string", "enum": [crd["kind"]]}
    schema["properties"]["metadata"] = _object_meta_schema()
    return schema


def _validator():
    try:
        import jsonschema
    except ImportError as err:
        raise DeployError("KServe manifests are validated with jsonschema against KServe's CRD schema "
                          f"({err}); install it: pip install 'irgraph[serve]'") from None
    return jsonschema.Draft4Validator(validation_schema())  # OpenAPI v3.0's schemas are draft 4's


def schema_problems(manifest: dict) -> list[str]:
    """Every place where ``manifest`` does not fit the CRD's schema, as ``path: message``."""
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_path(e.absolute_path)}: {_message(e)}" for e in errors]


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(the manifest)"


def _message(error) -> str:
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        return f"{error.message.rstrip('.')}; the schema's fields here are {known}"
    if error.validator == "pattern" and "[KMGTPE]i" in error.validator_value:
        return f"{error.instance!r} is not a Kubernetes quantity (such as 500m, 2, 1.5, 512Mi, 4Gi)"
    return error.message


# --------------------------------------------------------------------------------------- quantities
_QUANTITY = re.compile(r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(?:(?P<suffix>[KMGTPE]i|[numkMGTPE])|[eE](?P<exponent>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)))?$")
_SUFFIX = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
           "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
           "P": Fraction(10**15), "E": Fraction(10**18), "Ki": Fraction(2**10), "Mi": Fraction(2**20),
           "Gi": Fraction(2**30), "Ti": Fraction(2**40), "Pi": Fraction(2**50), "Ei": Fraction(2**60)}


def parse_quantity(text: str) -> Fraction | None:
    """A Kubernetes resource quantity (``500m``, ``2Gi``, ``1e3``) as a number; None if it is not one."""
    match = _QUANTITY.match(str(text))
    if not match:
        return None
    value = Fraction(match["number"])
    if match["exponent"] is not None:
        exponent = Fraction(match["exponent"])
        if exponent.denominator != 1 or abs(exponent) > 100:
            return None
        return value * Fraction(10) ** int(exponent)
    return value * _SUFFIX[match["suffix"] or ""]


def _memory_default(model_bytes: int) -> str:
    """2Gi, or room for Triton, the stub process and the model twice (file and session) if larger."""
    gib = max(MIN_MEMORY_GIB, math.ceil(1 + 2 * model_bytes / 2**30))
    return f"{gib}Gi"


def resource_problems(resources: dict) -> list[str]:
    """What Kubernetes refuses outside the schema: non-positive quantities, a limit below its request."""
    problems = []
    values = {}
    for kind in ("requests", "limits"):
        quantities = resources.get(kind)
        for resource, text in (quantities.items() if isinstance(quantities, dict) else ()):
            value = parse_quantity(text)
            if value is None:
                continue  # the schema's pattern reports it
            if value <= 0:
                problems.append(f"{kind}.{resource} is {text}; it must be more than 0")
            values[kind, resource] = value
    for (kind, resource), request in values.items():
        limit = values.get(("limits", resource))
        if kind == "requests" and limit is not None and limit < request:
            problems.append(f"{resource} limit {resources['limits'][resource]} is below its request "
                            f"{resources['requests'][resource]}; Kubernetes refuses such a pod (raise the limit "
                            "or lower the request)")
    return problems


# ---------------------------------------------------------------------------------------- manifest
def service_name_for(model_name: str) -> str:
    """A model name made an InferenceService name: lower case, '_' and '.' as '-'."""
    name = re.sub(r"[^a-z0-9-]", "-", model_name.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:DNS_LABEL_MAX].rstrip("-")
    return name


def build_manifest(model_name: str, model_bytes: int, options: KServeOptions, gpu: bool) -> dict:
    """The InferenceService for the repository of model ``model_name`` (not yet checked)."""
    crd = crd_schema()
    name = options.service_name or service_name_for(model_name)
    memory = options.memory or _memory_default(model_bytes)
    requests = {"cpu": options.cpu, "memory": memory}
    limits = {"cpu": options.cpu_limit or options.cpu, "memory": options.memory_limit or memory}
    if gpu:
        limits["nvidia.com/gpu"] = "1"  # extended resources: the request defaults to the limit
    metadata = {"name": name}
    if options.namespace:
        metadata["namespace"] = options.namespace
    model = {"modelFormat": {"name": "onnx", "version": "1"}, "runtime": RUNTIME, "protocolVersion": "v2",
             "storageUri": options.storage_uri or STORAGE_URI_PLACEHOLDER,
             "resources": {"requests": requests, "limits": limits}}
    return {"apiVersion": f"{crd['group']}/{crd['version']}", "kind": crd["kind"], "metadata": metadata,
            "spec": {"predictor": {"model": model}}}


def check_manifest(manifest: dict) -> None:
    """Raise `DeployError` listing every way ``manifest`` does not fit KServe's CRD schema or the
    rules KServe and Kubernetes apply outside it."""
    problems = schema_problems(manifest)
    if not isinstance(manifest, dict):
        raise DeployError("the InferenceService manifest is not a mapping: " + "; ".join(problems))
    metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if isinstance(name, str) and not (SERVICE_NAME.match(name) and len(name) <= DNS_LABEL_MAX):
        problems.append(f"metadata.name {name!r} is not an InferenceService name: lower-case letters, digits "
                        f"and '-', starting with a letter, at most {DNS_LABEL_MAX} characters (KServe's rule); "
                        "give --service-name")
    if isinstance(namespace, str) and not (NAMESPACE.match(namespace) and len(namespace) <= DNS_LABEL_MAX):
        problems.append(f"metadata.namespace {namespace!r} is not a Kubernetes namespace name: lower-case "
                        f"letters, digits and '-', at most {DNS_LABEL_MAX} characters")
    model = _get(manifest, "spec", "predictor", "model") or {}
    resources = model.get("resources") if isinstance(model, dict) else None
    if isinstance(resources, dict):
        problems += resource_problems(resources)
    uri = model.get("storageUri") if isinstance(model, dict) else None
    if (isinstance(uri, str) and uri != STORAGE_URI_PLACEHOLDER and re.search(r"\w://", uri)
            and not uri.startswith(STORAGE_SCHEMES)):
        problems.append(f"storageUri {uri!r} has a scheme KServe cannot download; use one of "
                        f"{', '.join(STORAGE_SCHEMES)}")
    if problems:
        source = crd_schema()["source"]
        raise DeployError(f"the InferenceService manifest does not fit KServe {source['release']}'s "
                          "InferenceService CRD (serving.kserve.io/v1beta1) or the rules KServe and Kubernetes "
                          "apply to it:\n  - " + "\n  - ".join(problems))


def _get(mapping, *keys):
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def manifest_text(manifest: dict, triton_name: str) -> str:
    """The manifest as YAML, with comments saying what to fill in and where the model answers."""
    import yaml
    body = yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)
    uri = manifest["spec"]["predictor"]["model"]["storageUri"]
    lines = []
    for line in body.splitlines():
        if line.strip().startswith("storageUri:") and uri == STORAGE_URI_PLACEHOLDER:
            line += "  # FILL IN: see the top of this file; KServe refuses this placeholder"
        lines.append(line)
    source = crd_schema()["source"]
    header = [
        f"# InferenceService for the Triton model repository ./{REPOSITORY_DIR} (model '{triton_name}'),",
        f"# written by irgraph deploy kserve and checked against KServe {source['release']}'s InferenceService CRD.",
        f"# Before kubectl apply -f {MANIFEST_FILE}: upload ./{REPOSITORY_DIR} (the directory holding",
        f"# {triton_name}/) where the cluster can read it (s3://, gs://, pvc://, https://, ...) and put its",
        "# URI in storageUri (or give --storage-uri to irgraph deploy kserve).",
        f"# The model answers the Open Inference Protocol at /v2/models/{triton_name}/infer.",
    ]
    return "\n".join(header + lines) + "\n"


def _parsed(text: str) -> dict:
    try:
        import yaml
    except ImportError as err:
        raise DeployError(f"KServe manifests are written with PyYAML ({err}); install it: "
                          "pip install 'irgraph[serve]'") from None
    return yaml.safe_load(text)


def prepare_kserve(source, triton: TritonOptions, options: KServeOptions):
    """``(prepared, text)``: the checked Triton model directory (`prepare`) and the checked manifest
    text, with nothing written yet."""
    prepared = prepare(source, triton)
    name, proto = prepared[0], prepared[1]
    manifest = build_manifest(name, proto.ByteSize(), options, triton.gpu)
    text = manifest_text(manifest, name)
    check_manifest(_parsed(text))  # what is checked is what will be written
    return prepared, text


def write_kserve(source, directory: str, triton: TritonOptions | None = None,
                 options: KServeOptions | None = None) -> tuple[str, str]:
    """Write ``directory/repository/NAME/...`` and ``directory/inferenceservice.yaml``; returns their
    paths (model directory, manifest)."""
    from irgraph.saving import atomic_write_bytes
    triton, options = triton or TritonOptions(), options or KServeOptions()
    prepared, text = prepare_kserve(source, triton, options)
    directory = os.fspath(directory)
    model_dir = write_prepared(prepared, os.path.join(directory, REPOSITORY_DIR), triton.version)
    manifest_path = os.path.join(directory, MANIFEST_FILE)
    atomic_write_bytes(manifest_path, text.encode())
    return model_dir, manifest_path
