"""Deployment to inference servers: Triton model repositories (`triton`) and KServe
InferenceService manifests (`kserve`)."""
from .kserve import KServeOptions, check_manifest, write_kserve
from .source import DeployError, load_source
from .triton import TritonOptions, check_config, check_repository, parse_config, write_repository

__all__ = ["DeployError", "KServeOptions", "TritonOptions", "check_config", "check_manifest", "check_repository",
           "load_source", "parse_config", "write_kserve", "write_repository"]
