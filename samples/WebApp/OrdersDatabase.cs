namespace Trousseau.Samples.WebApp;

/// <summary>The login secret <c>db/orders</c>, bound from configuration section <c>orders</c>.</summary>
internal sealed class OrdersDatabase
{
    /// <summary>The login name.</summary>
    public string? Username { get; set; }

    /// <summary>The password.</summary>
    public string? Password { get; set; }

    /// <summary>Where the database is.</summary>
    public string? Endpoint { get; set; }
}
