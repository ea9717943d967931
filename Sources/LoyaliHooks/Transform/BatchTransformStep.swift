/// A transform step that is cheaper on many events at once than on one at a time, such as a
/// plugin, which pipelines a whole batch to its process instead of paying a round trip per event.
///
/// ``DeliveryPlanner/plan(batch:)`` hands such a step every event of a batch that is still alive
/// at its position in the pipeline; other steps are applied one event at a time.
public protocol BatchTransformStep: TransformStep {
    /// Applies the step to every envelope in `envelopes`, changing them in place. Returns one
    /// outcome per envelope, in the same order; a failure affects only its own event.
    func apply(batch envelopes: inout [EventEnvelope]) -> [Result<TransformOutcome, TransformFailure>]
}

extension TransformStep {
    /// Applies the step to each envelope in turn: what a step without a batch form does.
    public func applyEach(_ envelopes: inout [EventEnvelope]) -> [Result<TransformOutcome, TransformFailure>] {
        var outcomes: [Result<TransformOutcome, TransformFailure>] = []
        outcomes.reserveCapacity(envelopes.count)
        for index in envelopes.indices {
            do {
                outcomes.append(.success(try apply(to: &envelopes[index])))
            } catch {
                outcomes.append(.failure(error))
            }
        }
        return outcomes
    }
}
