"""``irgraph deploy triton``, ``irgraph deploy kserve`` and ``irgraph serve`` (added to the `irgraph`
command by `add_commands`).

  irgraph deploy triton MODEL -o REPO [--name NAME] [--version N] [--max-batch-size B]
      [--dynamic-batching] [--preferred-batch-size B ...] [--max-queue-delay-us U] [--instances K]
      [--gpu] [--tensorrt] [--labels FILE [--labels-output NAME]]
  irgraph deploy kserve MODEL -o DIR [the options of deploy triton] [--service-name NAME]
      [--namespace NS] [--storage-uri URI] [--cpu Q] [--memory Q] [--cpu-limit Q] [--memory-limit Q]
  irgraph serve MODEL_OR_REPO [--host H] [--http-port P] [--grpc-port Q] [--name NAME]

MODEL: an ONNX file (irgraph's or any other), a Keras/irgraph model file, or MODULE:FACTORY.
"""
from __future__ import annotations

import argparse
import os


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _triton_arguments(p, batching_default: bool = False) -> None:
    p.add_argument("--name", help="model name in the repository (default: the model's own name)")
    p.add_argument("--version", type=_positive, default=1)
    p.add_argument("--max-batch-size", type=_non_negative, default=None,
                   help="0: no batching; default 32 when every input and output has a dynamic batch axis")
    if batching_default:
        p.add_argument("--no-dynamic-batching", dest="dynamic_batching", action="store_false")
    else:
        p.add_argument("--dynamic-batching", action="store_true")
    p.add_argument("--preferred-batch-size", type=_positive, nargs="+", default=[])
    p.add_argument("--max-queue-delay-us", type=_non_negative, default=0)
    p.add_argument("--instances", type=_positive, default=1, help="model instances (onnxruntime sessions)")
    p.add_argument("--gpu", action="store_true",
                   help="GPU instances (onnxruntime's CUDA provider); with kserve also an nvidia.com/gpu limit")
    p.add_argument("--tensorrt", action="store_true", help="TensorRT as GPU execution accelerator")
    p.add_argument("--labels", help="class names, one a line, attached to the classifier output")
    p.add_argument("--labels-output", help="the output the labels belong to (default: the one that fits)")


def triton_options(args):
    from irgraph.deploy import TritonOptions
    return TritonOptions(name=args.name, version=args.version, max_batch_size=args.max_batch_size,
                         dynamic_batching=args.dynamic_batching,
                         preferred_batch_sizes=tuple(args.preferred_batch_size),
                         max_queue_delay_us=args.max_queue_delay_us, instances=args.instances,
                         gpu=args.gpu, tensorrt=args.tensorrt, labels=args.labels,
                         labels_output=args.labels_output)


def cmd_deploy_triton(args) -> int:
    from irgraph.deploy import write_repository
    model_dir = write_repository(args.model, args.output, triton_options(args))
    print(f"wrote {model_dir}: config.pbtxt (checked with Triton's schema against the ONNX file), "
          f"{args.version}/model.onnx")
    return 0


def cmd_deploy_kserve(args) -> int:
    from irgraph.deploy.kserve import KServeOptions, write_kserve
    options = KServeOptions(service_name=args.service_name, namespace=args.namespace,
                            storage_uri=args.storage_uri, cpu=args.cpu, memory=args.memory,
                            cpu_limit=args.cpu_limit, memory_limit=args.memory_limit)
    model_dir, manifest = write_kserve(args.model, args.output, triton_options(args), options)
    print(f"wrote {model_dir} (Triton model repository, checked against the ONNX file) and {manifest} "
          "(InferenceService, checked against KServe's CRD schema)")
    if not args.storage_uri:
        print(f"next: upload {os.path.dirname(model_dir)} and put its URI in storageUri in {manifest}")
    return 0


def cmd_serve(args) -> int:
    from irgraph.serving.server import TritonServer, repository_for, serve_forever
    repo = repository_for(args.model, triton_options(args))
    server = TritonServer(repo, host=args.host, http_port=args.http_port, grpc_port=args.grpc_port)
    return serve_forever(server)


def add_commands(sub) -> None:
    deploy = sub.add_parser("deploy", help="write a model repository for an inference server")
    targets = deploy.add_subparsers(dest="target", required=True)
    p = targets.add_parser("triton", help="a Triton model repository (onnxruntime backend)")
    p.add_argument("model", help="an ONNX file, a .keras/.h5/irgraph model file or MODULE:FACTORY")
    p.add_argument("-o", "--output", required=True, help="the model repository (created if absent)")
    _triton_arguments(p)
    p.set_defaults(fn=cmd_deploy_triton)

    p = targets.add_parser("kserve", help="a Triton model repository and a KServe InferenceService manifest")
    p.add_argument("model", help="an ONNX file, a .keras/.h5/irgraph model file or MODULE:FACTORY")
    p.add_argument("-o", "--output", required=True,
                   help="directory for repository/ and inferenceservice.yaml (created if absent)")
    _triton_arguments(p)
    p.add_argument("--service-name", help="the InferenceService's name (default: the model name, lower case, "
                                          "'_' as '-')")
    p.add_argument("--namespace", help="the Kubernetes namespace (default: none written)")
    p.add_argument("--storage-uri", help="where the repository will be uploaded (default: a placeholder "
                                         "to fill in)")
    p.add_argument("--cpu", default="1", help="CPU request (a Kubernetes quantity; default 1)")
    p.add_argument("--memory", help="memory request (default 2Gi, more for models over 512 MiB)")
    p.add_argument("--cpu-limit", help="CPU limit (default: the request)")
    p.add_argument("--memory-limit", help="memory limit (default: the request)")
    p.set_defaults(fn=cmd_deploy_kserve)

    p = sub.add_parser("serve", help="serve a model or repository over the Open Inference Protocol (Triton)")
    p.add_argument("model", metavar="MODEL_OR_REPO",
                   help="a model repository, or a model (then deployed to a temporary repository)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--http-port", type=_positive, default=8000)
    p.add_argument("--grpc-port", type=_positive, default=8001)
    _triton_arguments(p, batching_default=True)
    p.set_defaults(fn=cmd_serve)


def handled_errors() -> tuple:
    """Errors `irgraph` prints as one line: bad models and configurations, serving failures."""
    from irgraph.serving.environment import ServeEnvironmentError
    from irgraph.serving.server import ServeError
    return (ServeError, ServeEnvironmentError)
