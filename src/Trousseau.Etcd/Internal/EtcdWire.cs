using System.Text.Json.Serialization;

namespace Trousseau.Etcd.Internal;

// etcd v3's JSON gateway (grpc-gateway): bytes are base64, 64-bit integers are strings, zero values are omitted.

internal sealed record ResponseHeader([property: JsonPropertyName("revision")] string? Revision);

internal sealed record KeyValue(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] string? Value,
    [property: JsonPropertyName("create_revision")] string? CreateRevision,
    [property: JsonPropertyName("mod_revision")] string? ModRevision);

internal sealed record RangeRequest(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("range_end")] string? RangeEnd = null,
    [property: JsonPropertyName("limit")] long? Limit = null,
    [property: JsonPropertyName("revision")] string? Revision = null,
    [property: JsonPropertyName("keys_only")] bool? KeysOnly = null);

internal sealed record RangeResponse(
    [property: JsonPropertyName("header")] ResponseHeader? Header,
    [property: JsonPropertyName("kvs")] IReadOnlyList<KeyValue>? Kvs,
    [property: JsonPropertyName("more")] bool More);

internal sealed record Compare(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("result")] string Result,
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("mod_revision")] string? ModRevision = null,
    [property: JsonPropertyName("create_revision")] string? CreateRevision = null);

internal sealed record PutRequest([property: JsonPropertyName("key")] string Key, [property: JsonPropertyName("value")] string Value);

internal sealed record DeleteRangeRequest([property: JsonPropertyName("key")] string Key);

internal sealed record RequestOp(
    [property: JsonPropertyName("request_put")] PutRequest? RequestPut = null,
    [property: JsonPropertyName("request_delete_range")] DeleteRangeRequest? RequestDeleteRange = null,
    [property: JsonPropertyName("request_range")] RangeRequest? RequestRange = null);

internal sealed record TxnRequest(
    [property: JsonPropertyName("compare")] IReadOnlyList<Compare> Compare,
    [property: JsonPropertyName("success")] IReadOnlyList<RequestOp> Success,
    [property: JsonPropertyName("failure")] IReadOnlyList<RequestOp> Failure);

internal sealed record ResponseOp([property: JsonPropertyName("response_range")] RangeResponse? ResponseRange);

internal sealed record TxnResponse(
    [property: JsonPropertyName("header")] ResponseHeader? Header,
    [property: JsonPropertyName("succeeded")] bool Succeeded,
    [property: JsonPropertyName("responses")] IReadOnlyList<ResponseOp>? Responses);

internal sealed record WatchCreateRequest(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("range_end")] string RangeEnd,
    [property: JsonPropertyName("start_revision")] string StartRevision);

internal sealed record WatchRequest([property: JsonPropertyName("create_request")] WatchCreateRequest CreateRequest);

internal sealed record WatchEvent([property: JsonPropertyName("type")] string? Type, [property: JsonPropertyName("kv")] KeyValue? Kv);

internal sealed record WatchResult(
    [property: JsonPropertyName("header")] ResponseHeader? Header,
    [property: JsonPropertyName("created")] bool Created,
    [property: JsonPropertyName("canceled")] bool Canceled,
    [property: JsonPropertyName("compact_revision")] string? CompactRevision,
    [property: JsonPropertyName("events")] IReadOnlyList<WatchEvent>? Events);

internal sealed record WatchResponse([property: JsonPropertyName("result")] WatchResult? Result, [property: JsonPropertyName("error")] GatewayError? Error);

internal sealed record AuthenticateRequest([property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("password")] string Password);

internal sealed record AuthenticateResponse([property: JsonPropertyName("token")] string? Token);

internal sealed record GatewayError(
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("code")] int Code);

internal sealed record StatusRequest;

internal sealed record StatusResponse([property: JsonPropertyName("header")] ResponseHeader? Header, [property: JsonPropertyName("leader")] string? Leader);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RangeRequest))]
[JsonSerializable(typeof(RangeResponse))]
[JsonSerializable(typeof(TxnRequest))]
[JsonSerializable(typeof(TxnResponse))]
[JsonSerializable(typeof(AuthenticateRequest))]
[JsonSerializable(typeof(AuthenticateResponse))]
[JsonSerializable(typeof(GatewayError))]
[JsonSerializable(typeof(StatusRequest))]
[JsonSerializable(typeof(WatchRequest))]
[JsonSerializable(typeof(WatchResponse))]
[JsonSerializable(typeof(StatusResponse))]
internal sealed partial class EtcdJson : JsonSerializerContext;
