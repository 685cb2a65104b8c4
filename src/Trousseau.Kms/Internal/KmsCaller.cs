using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Trousseau.Kms.Internal;

/// <summary>
/// The process at the other end of a connection to the KMS socket, as the kernel saw it connect (<c>SO_PEERCRED</c>):
/// the audit trail's identity <c>uid:N</c> and address <c>pid:N</c>. Read once per connection, and kept in the
/// connection's features, where each call's <c>HttpContext</c> finds it.
/// </summary>
internal sealed class KmsCaller
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, in the machine's byte order.
    private const int UcredBytes = 12;

    private KmsCaller(int pid, uint uid)
    {
        Identity = FormattableString.Invariant($"uid:{uid}");
        Address = FormattableString.Invariant($"pid:{pid}");
    }

    /// <summary><c>uid:N</c>: the caller's user id.</summary>
    public string Identity { get; }

    /// <summary><c>pid:N</c>: the caller's process id when it connected.</summary>
    public string Address { get; }

    /// <summary>The peer of <paramref name="socket"/>, or <see langword="null"/> where Linux's <c>SO_PEERCRED</c> cannot tell.</summary>
    public static KmsCaller? Of(Socket? socket)
    {
        if (socket is null || !OperatingSystem.IsLinux())
        {
            return null;
        }

        Span<byte> credentials = stackalloc byte[UcredBytes];
        try
        {
            if (socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials) < UcredBytes)
            {
                return null;
            }
        }
        catch (SocketException)
        {
            return null;
        }

        return new KmsCaller(MemoryMarshal.Read<int>(credentials), MemoryMarshal.Read<uint>(credentials[4..]));
    }
}
