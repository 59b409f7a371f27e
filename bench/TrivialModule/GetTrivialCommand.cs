using System.Management.Automation;

namespace TrivialModule;

/// <summary>The whole module: one cmdlet that writes one small object, the least a first call can do.</summary>
[Cmdlet(VerbsCommon.Get, "Trivial")]
[OutputType(typeof(TrivialResult))]
public sealed class GetTrivialCommand : PSCmdlet
{
    protected override void ProcessRecord() => WriteObject(new TrivialResult(Environment.ProcessorCount, true));
}

public sealed record TrivialResult(int ProcessorCount, bool Answered);
