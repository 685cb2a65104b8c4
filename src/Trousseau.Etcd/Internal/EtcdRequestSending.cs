using System.Net;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// Tells whether a unary call's request went out to a member: the handler under the gRPC channel, which a request
/// reaches only once the channel has picked a connected member, marks the call when the request's body starts to be
/// written on a connection. A call never marked was never written: no member can have run it (its connection was
/// refused, or the call waited out its deadline for a connection), so a write that fails so was not applied.
/// </summary>
/// <remarks>
/// The call is found through an <see cref="AsyncLocal{T}"/> set by <see cref="Begin"/> in the method that makes the
/// call, which flows into the channel's sending of each of its attempts.
/// </remarks>
internal sealed class EtcdRequestSending(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private static readonly AsyncLocal<Call?> Current = new();

    /// <summary>
    /// Starts following the calls made from here on in the calling method (and the methods it awaits): each attempt
    /// whose request is written marks the returned call.
    /// </summary>
    public static Call Begin() => Current.Value = new Call();

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Current.Value is { } call && request.Content is { } content)
        {
            request.Content = new MarkingContent(content, call);
        }

        return base.SendAsync(request, cancellationToken);
    }

    /// <summary>One call to etcd, with each of its attempts.</summary>
    public sealed class Call
    {
        private volatile bool _sent;

        /// <summary>Whether an attempt's request started to be written to a member's connection.</summary>
        public bool Sent => _sent;

        internal void MarkSent() => _sent = true;
    }

    /// <summary>The request's own body, which marks its call when it starts to be written.</summary>
    private sealed class MarkingContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly Call _call;

        public MarkingContent(HttpContent inner, Call call)
        {
            _inner = inner;
            _call = call;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            _call.MarkSent();
            return _inner.CopyToAsync(stream, context);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            _call.MarkSent();
            return _inner.CopyToAsync(stream, context, cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
