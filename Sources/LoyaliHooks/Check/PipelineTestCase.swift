/// One test of a pipeline, read from a test file beside the pipelines (`pipelines/tests/*.yaml`):
/// input events and what each sink should receive.
public struct PipelineTestCase: Sendable {
    /// The test's `name`.
    public var name: String
    /// Where the test starts in its file (its list item).
    public var location: SourceLocation
    /// The name of the pipeline under test.
    public var pipeline: String
    /// Input events as JSON lines, each with the place it was written (inline or in a file).
    public var events: [Event]
    /// Expectations, one per sink named under `expect`, in file order.
    public var sinks: [SinkExpectation]
    /// `expect_failure`: a transform step must fail with a reason containing this text.
    public var expectedFailure: ExpectedFailure?

    /// One input event.
    public struct Event: Sendable {
        /// The exact line fed to the input decoder.
        public var line: [UInt8]
        /// Where it was written: in the test file, or `file:line` of an `input_file`.
        public var location: SourceLocation
    }

    /// What one sink should receive across all the test's events.
    public struct SinkExpectation: Sendable {
        /// The sink's name.
        public var sink: String
        /// Where the sink is named under `expect`.
        public var location: SourceLocation
        /// The deliveries in order; empty means "no delivery".
        public var deliveries: [ExpectedDelivery]
    }

    /// One expected delivery.
    public struct ExpectedDelivery: Sendable {
        /// Where the expectation is written.
        public var location: SourceLocation
        /// `body`: the whole delivered body, compared as JSON (numbers as decimals).
        public var body: JSONValue?
        /// `data`, `event_type`, `created_at`, `id`: envelope fields that must hold these values;
        /// objects match as subsets (keys not listed are not compared), arrays and scalars exactly.
        public var fields: JSONObject
        /// `headers`: each must be sent with this value (names compared without case). For a
        /// signature header only its presence is checked, since its value depends on the key.
        public var headers: [(name: String, value: String, location: SourceLocation)]
    }

    /// `expect_failure`.
    public struct ExpectedFailure: Sendable {
        /// Text the failure's message must contain.
        public var reason: String
        public var location: SourceLocation
    }
}
