namespace Trousseau;

/// <summary>
/// Stands, in the options system, for the choice of key provider and store (<see cref="TrousseauOptions.KeyProvider"/>
/// and <see cref="TrousseauOptions.Store"/>), so that <see cref="BackendChoiceCheck"/> judges the choice against the
/// backends registered when the host starts (<c>ValidateOnStart</c>) and when a backend is first resolved, not each time
/// <see cref="TrousseauOptions"/> are made: the backends registered are those the application started with, while
/// options made again from a changed configuration (trousseaud checks each changed settings file) may name a backend
/// that only a restart would register. It holds nothing.
/// </summary>
internal sealed class BackendChoice;
