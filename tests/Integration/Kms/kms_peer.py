#!/usr/bin/env python3
"""A KMS plugin client built on gRPC's C core (python3-grpcio), independent of Trousseau's .NET code.

It plays kube-apiserver's part. The KMS v2 and v1beta1 messages are described here from the Kubernetes KMS API
(field numbers as published), not compiled from Trousseau's .proto files.

Usage: kms_peer.py SOCKET
Reads one JSON call per line on stdin and answers one JSON line on stdout:
  {"method": "/v2.KeyManagementService/Encrypt", "request": {"plaintext": "<base64>"}, "timeout": 3}
  -> {"code": "OK", "details": "", "response": {...}}   (proto3 JSON mapping: bytes as base64)
  {"method": ..., "request": ..., "repeat": 200}
  -> {"codes": {"OK": 200}, "responses": [...]}
A repeated call is issued that many times at once: every call is started on the channel before any answer is
awaited, as kube-apiserver does under load (HTTP/2 then caps how many streams are open together, at the plugin's
SETTINGS_MAX_CONCURRENT_STREAMS).
The channel stays open between calls, as kube-apiserver's does, also while the plugin restarts. One process serves a
whole test class: it reads calls until stdin closes.
"""
import base64
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

F = descriptor_pb2.FieldDescriptorProto
STRING, BYTES, MESSAGE = F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE

SCHEMAS = {
    "v2": {
        "StatusRequest": [],
        "StatusResponse": [("version", 1, STRING), ("healthz", 2, STRING), ("key_id", 3, STRING)],
        "DecryptRequest": [("ciphertext", 1, BYTES), ("uid", 2, STRING), ("key_id", 3, STRING), ("annotations", 4, "map")],
        "DecryptResponse": [("plaintext", 1, BYTES)],
        "EncryptRequest": [("plaintext", 1, BYTES), ("uid", 2, STRING)],
        "EncryptResponse": [("ciphertext", 1, BYTES), ("key_id", 2, STRING), ("annotations", 3, "map")],
    },
    "v1beta1": {
        "VersionRequest": [("version", 1, STRING)],
        "VersionResponse": [("version", 1, STRING), ("runtime_name", 2, STRING), ("runtime_version", 3, STRING)],
        "DecryptRequest": [("version", 1, STRING), ("cipher", 2, BYTES)],
        "DecryptResponse": [("plain", 1, BYTES)],
        "EncryptRequest": [("version", 1, STRING), ("plain", 2, BYTES)],
        "EncryptResponse": [("cipher", 1, BYTES)],
    },
}
METHODS = {
    "v2": {"Status": "Status", "Encrypt": "Encrypt", "Decrypt": "Decrypt"},
    "v1beta1": {"Version": "Version", "Encrypt": "Encrypt", "Decrypt": "Decrypt"},
}


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def build_classes():
    pool = descriptor_pool.DescriptorPool()
    for package, messages in SCHEMAS.items():
        file = descriptor_pb2.FileDescriptorProto(name=f"peer_{package}.proto", package=package, syntax="proto3")
        for message_name, fields in messages.items():
            message = file.message_type.add(name=message_name)
            for field_name, number, kind in fields:
                field = message.field.add(name=field_name, number=number, json_name=camel(field_name))
                if kind == "map":
                    entry_name = camel(field_name)[0].upper() + camel(field_name)[1:] + "Entry"
                    entry = message.nested_type.add(name=entry_name)
                    entry.options.map_entry = True
                    entry.field.add(name="key", number=1, type=STRING, label=F.LABEL_OPTIONAL, json_name="key")
                    entry.field.add(name="value", number=2, type=BYTES, label=F.LABEL_OPTIONAL, json_name="value")
                    field.type, field.label = MESSAGE, F.LABEL_REPEATED
                    field.type_name = f".{package}.{message_name}.{entry_name}"
                else:
                    field.type, field.label = kind, F.LABEL_OPTIONAL
        pool.Add(file)
    classes = {}
    factory = message_factory.MessageFactory(pool) if not hasattr(message_factory, "GetMessageClass") else None
    for package, messages in SCHEMAS.items():
        for message_name in messages:
            descriptor = pool.FindMessageTypeByName(f"{package}.{message_name}")
            classes[(package, message_name)] = (
                message_factory.GetMessageClass(descriptor) if factory is None else factory.GetPrototype(descriptor))
    return classes


def main():
    socket = sys.argv[1]
    classes = build_classes()
    channel = grpc.insecure_channel(f"unix://{socket}", options=[("grpc.enable_retries", 0)])
    stubs = {}
    for package, methods in METHODS.items():
        for method in methods:
            request_class = classes[(package, f"{method}Request")]
            response_class = classes[(package, f"{method}Response")]
            stubs[f"/{package}.KeyManagementService/{method}"] = (
                request_class,
                channel.unary_unary(f"/{package}.KeyManagementService/{method}",
                                    request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=response_class.FromString))

    def outcome(future):
        try:
            response = future.result()
            return {"code": "OK", "details": "", "response": {} if response is None else
                    json_format.MessageToDict(response, preserving_proto_field_name=True)}
        except grpc.RpcError as error:
            return {"code": error.code().name, "details": error.details() or ""}

    def start(method, request, timeout):
        if method not in stubs:
            # An unknown method: raw bytes, as a confused client would send.
            raw = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: None)
            return raw.future(b"", timeout=timeout)
        request_class, stub = stubs[method]
        return stub.future(json_format.ParseDict(request, request_class()), timeout=timeout, wait_for_ready=False)

    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        method, request, timeout = command["method"], command.get("request", {}), command.get("timeout", 3)
        repeat = command.get("repeat")
        if repeat:
            futures = [start(method, request, timeout) for _ in range(repeat)]
            results = [outcome(future) for future in futures]
            codes = {}
            for result in results:
                codes[result["code"]] = codes.get(result["code"], 0) + 1
            answer = {"codes": codes, "responses": [r.get("response") for r in results]}
        else:
            answer = outcome(start(method, request, timeout))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
