namespace Trousseau.Tests.Unit.Secrets;

/// <summary>
/// The characters of generated values, counted: a value holds <c>length × log2(alphabet size)</c> bits only when every
/// character is as likely as any other.
/// </summary>
public sealed class SecretGeneratorTests
{
    // Characters counted per alphabet: 128 values of the longest length.
    private const int Values = 128;

    /// <summary>
    /// A generator that takes a random byte modulo the alphabet's size (n, not a power of two) makes each of the first
    /// r = 256 mod n characters likelier, (⌊256/n⌋ + 1)/256 instead of 1/n, so that together they come up with
    /// probability p1 = r(⌊256/n⌋ + 1)/256 rather than p0 = r/n. The test counts them over N characters and fails when
    /// their share is nearer p1 than p0. By Hoeffding's inequality each side errs with probability at most
    /// exp(-2N((p1 - p0)/2)²): with N = 128 × 4096 = 524,288, e^-194 for the default alphabet (r = 8: p0 = 0.129,
    /// p1 = 0.156) and e^-56 for the 63 characters below (r = 4: p0 = 0.0635, p1 = 0.0781); a fair generator never fails
    /// it in practice, a biased one always does.
    /// </summary>
    [Theory]
    [InlineData(SecretGenerationOptions.DefaultAlphabet)]
    [InlineData(SecretGenerationOptions.DefaultAlphabet + "\U0001F511")]
    public void The_characters_that_a_byte_modulo_the_alphabet_size_favours_come_up_no_more_often_than_the_others(string alphabet)
    {
        var characters = alphabet.EnumerateRunes().ToList();
        var size = characters.Count;
        var favoured = characters.Take(256 % size).ToHashSet();
        var p0 = (double)favoured.Count / size;
        var p1 = favoured.Count * ((256 / size) + 1) / 256.0;
        var drawn = 0L;
        var counted = 0L;

        for (var i = 0; i < Values; i++)
        {
            var (_, data) = SecretGenerator.Generate(new SecretGenerationOptions { Length = SecretGenerationOptions.MaxLength, Alphabet = alphabet });
            foreach (var character in data[SecretData.DefaultValueKey].EnumerateRunes())
            {
                drawn++;
                counted += favoured.Contains(character) ? 1 : 0;
            }
        }

        Assert.Equal((long)Values * SecretGenerationOptions.MaxLength, drawn);
        Assert.True(
            (double)counted / drawn < (p0 + p1) / 2,
            $"The {favoured.Count} characters a byte modulo {size} favours made {counted} of {drawn} characters ({(double)counted / drawn:P2}): nearer {p1:P2} (biased) than {p0:P2} (uniform).");
    }

    [Theory]
    [InlineData(SecretGenerationOptions.DefaultAlphabet)]
    [InlineData(SecretGenerationOptions.DefaultAlphabet + "\U0001F511")]
    public void Every_character_of_the_alphabet_comes_up_and_no_other(string alphabet)
    {
        var (_, data) = SecretGenerator.Generate(new SecretGenerationOptions { Length = SecretGenerationOptions.MaxLength, Alphabet = alphabet });

        // 4096 draws all missing one of 62 (63) characters: probability at most 63 × (62/63)^4096, below e^-61.
        Assert.Equal(
            alphabet.EnumerateRunes().Order().ToArray(),
            data[SecretData.DefaultValueKey].EnumerateRunes().Distinct().Order().ToArray());
    }

    [Theory]
    [InlineData(SecretGenerationOptions.DefaultAlphabet)]
    [InlineData(SecretGenerationOptions.DefaultAlphabet + "\U0001F511")]
    public void No_two_generated_values_are_alike(string alphabet)
    {
        // 64 values of 32 characters: two alike with probability below 64² × 62^-32, about 2^-178.
        var values = Enumerable.Range(0, 64)
            .Select(_ => SecretGenerator.Generate(new SecretGenerationOptions { Alphabet = alphabet }).Data[SecretData.DefaultValueKey])
            .ToList();

        Assert.Equal(values.Count, values.Distinct(StringComparer.Ordinal).Count());
    }
}
