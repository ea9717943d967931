/// The JSON Schema (2020-12) of pipeline files, generated from the definitions the loader reads
/// with: ``PipelineKeys``, each stage factory's options in a ``StageRegistry``, the event
/// catalogue, the duration and name grammars, and (given) plugin manifests. `loyali-hooks schema`
/// prints it and `docs/pipeline.schema.json` ships it, for editors (yaml-language-server) and CI.
public enum PipelineSchema {
    /// The `$schema` dialect.
    public static let dialect = "https://json-schema.org/draft/2020-12/schema"

    /// The schema for `registry`'s stages, with the config of `plugins` checked per plugin.
    public static func make(registry: StageRegistry = .builtIn, plugins: [PluginManifest] = []) -> JSONValue {
        var defs = JSONObject()
        defs["source"] = tagged(
            "source", kinds: registry.sources.keys.sorted(), keys: ["type"] + registry.sources.keys.sorted().flatMap { registry.sources[$0]!.keys },
            schema: { kind in
                let factory = registry.sources[kind]!
                return closed(factory.options, extra: [("type", .object(["const": .string(kind)]))], description: factory.summary)
            })
        defs["sinkType"] = .object(["enum": .array(registry.sinks.keys.sorted().map(JSONValue.string)), "description": .string("The sink type.")])
        defs["sink"] = tagged(
            "sink", kinds: registry.sinks.keys.sorted(),
            keys: PipelineKeys.sinkCommon.names + registry.sinks.keys.sorted().flatMap { registry.sinks[$0]!.keys },
            schema: { kind in
                let factory = registry.sinks[kind]!
                var options = factory.options
                if kind == PluginSink.factory.kind { options = pluginOptions(options, plugins: plugins.filter { $0.kind == .sink }, key: "plugin") }
                var common = PipelineKeys.sinkCommon
                common.removeAll { $0.name == "type" }
                var schema = closed(common + options, extra: [("type", .object(["const": .string(kind)]))], description: factory.summary)
                if kind == PluginSink.factory.kind { schema = withPluginConfigs(schema, plugins: plugins.filter { $0.kind == .sink }, key: "plugin") }
                return schema
            })
        defs["sinks"] = .object([
            "type": .string("object"), "minProperties": .number(JSONNumber(1)),
            "propertyNames": .object(["pattern": .string(PipelineLoader.namePattern)]),
            "additionalProperties": .object(["$ref": .string("#/$defs/sink")]),
            "description": .string("Sinks by name (1–64 letters, digits, '-', '_' or '.')."),
        ])
        var steps: [JSONValue] = []
        for name in registry.transforms.keys.sorted() {
            let factory = registry.transforms[name]!
            var options = factory.options
            var own = ConfigKey(name, factory.value, required: true, factory.summary)
            let transformPlugins = plugins.filter { $0.kind == .transform }
            if name == PluginTransformStep.factory.name, !transformPlugins.isEmpty {
                own.value = .oneOf(transformPlugins.map(\.name).sorted())
                options = options.filter { $0.name != "config" }
                var step = closed([own] + options + [ConfigKey("config", .any, "The plugin's options, checked against its manifest.")], description: factory.summary)
                step = withPluginConfigs(step, plugins: transformPlugins, key: name)
                steps.append(.object(step))
                continue
            }
            steps.append(.object(closed([own] + options, description: factory.summary)))
        }
        defs["step"] = .object(["type": .string("object"), "oneOf": .array(steps), "description": .string("One transform step, e.g. '- redact: [data.customer_email]'.")])
        defs["steps"] = .object(["type": .string("array"), "items": .object(["$ref": .string("#/$defs/step")])])

        var root = closed(PipelineKeys.topLevel, description: "A loyali-hooks pipeline file: one source, a filter, transform steps, signing and sinks.")
        root.members.insert(JSONObject.Member(key: "$schema", value: .string(dialect)), at: 0)
        root.members.insert(JSONObject.Member(key: "title", value: .string("loyali-hooks pipeline")), at: 1)
        root["$defs"] = .object(defs)
        return .object(root)
    }

    /// A mapping with exactly `keys` (and `extra`, already in schema form).
    static func closed(_ keys: [ConfigKey], extra: [(String, JSONValue)] = [], description: String? = nil) -> JSONObject {
        var object = JSONObject()
        object["type"] = .string("object")
        if let description { object["description"] = .string(description) }
        var properties = JSONObject()
        for (name, schema) in extra { properties[name] = schema }
        for key in keys { properties[key.name] = .object(schema(key.value, description: key.description)) }
        object["properties"] = .object(properties)
        let required = extra.map(\.0) + keys.filter(\.required).map(\.name)
        if !required.isEmpty { object["required"] = .array(required.map(JSONValue.string)) }
        object["additionalProperties"] = .bool(false)
        return object
    }

    /// A mapping told apart by its `type`: the type must be one of `kinds`, and each type's own
    /// schema applies to it (`if type is X then …`).
    /// Keys that no type accepts are refused whatever the type, even an unknown one.
    static func tagged(_ what: String, kinds: [String], keys: [String], schema: (String) -> JSONObject) -> JSONValue {
        .object([
            "type": .string("object"),
            "required": .array([.string("type")]),
            "propertyNames": .object(["enum": .array(keys.uniqued().map(JSONValue.string))]),
            "properties": .object(["type": .object(["enum": .array(kinds.map(JSONValue.string)), "description": .string("The \(what) type.")])]),
            "allOf": .array(kinds.map { kind in
                .object([
                    "if": .object(["properties": .object(["type": .object(["const": .string(kind)])]), "required": .array([.string("type")])]),
                    "then": .object(schema(kind)),
                ])
            }),
        ])
    }

    /// Restricts the plugin-naming key to the plugins present.
    static func pluginOptions(_ options: [ConfigKey], plugins: [PluginManifest], key: String) -> [ConfigKey] {
        guard !plugins.isEmpty else { return options }
        return options.map { option in
            var option = option
            if option.name == key { option.value = .oneOf(plugins.map(\.name).sorted()) }
            return option
        }
    }

    /// Adds `if <key> is P then config is P's manifest config` for each plugin.
    static func withPluginConfigs(_ schema: JSONObject, plugins: [PluginManifest], key: String) -> JSONObject {
        guard !plugins.isEmpty else { return schema }
        var schema = schema
        schema["allOf"] = .array(plugins.sorted { $0.name < $1.name }.map { plugin in
            var config = JSONObject()
            config["type"] = .string("object")
            config["description"] = .string(plugin.description.isEmpty ? "The config of plugin \(plugin.name)." : plugin.description)
            var properties = JSONObject()
            for field in plugin.config { properties[field.name] = .object(fieldSchema(field)) }
            config["properties"] = .object(properties)
            let required = plugin.config.filter(\.required).map(\.name)
            if !required.isEmpty { config["required"] = .array(required.map(JSONValue.string)) }
            config["additionalProperties"] = .bool(false)
            var then = JSONObject()
            then["properties"] = .object(["config": .object(config)])
            if !required.isEmpty { then["required"] = .array([.string("config")]) }
            return .object([
                "if": .object(["properties": .object([key: .object(["const": .string(plugin.name)])]), "required": .array([.string(key)])]),
                "then": .object(then),
            ])
        })
        return schema
    }

    static func fieldSchema(_ field: PluginConfigField) -> JSONObject {
        var object: JSONObject
        switch field.type {
        case .string: object = JSONObject(["type": .array(["string", "number", "boolean"].map(JSONValue.string))])
        case .integer: object = withVariables(JSONObject(["type": .string("integer")]))
        case .number: object = withVariables(JSONObject(["type": .string("number")]))
        case .boolean: object = withVariables(JSONObject(["type": .string("boolean")]))
        case .list: object = JSONObject(["type": .string("array")])
        case .object: object = JSONObject(["type": .string("object")])
        }
        if !field.description.isEmpty { object["description"] = .string(field.description) }
        if let value = field.defaultValue { object["default"] = value }
        return object
    }

    /// A scalar that is `${VAR}` somewhere: the loader expands it before checking the value.
    static let variable: JSONValue = .object(["type": .string("string"), "pattern": .string(#"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"#)])

    /// `schema`, or a string that takes a value from the environment.
    static func withVariables(_ schema: JSONObject) -> JSONObject {
        JSONObject(["anyOf": .array([.object(schema), variable])])
    }

    /// A duration: the grammar as a string (`0` may be a bare number), or `${VAR}`.
    static var duration: JSONObject {
        JSONObject(["anyOf": .array([
            .object(["type": .string("string"), "pattern": .string(Duration.configPattern)]), .object(["const": .number(JSONNumber(0))]), variable,
        ])])
    }

    /// Event types a filter may name: the catalogue, each group's `prefix.*`, and `*`.
    static var eventPatterns: [String] { EventCatalogue.names + EventCatalogue.groups.map { "\($0).*" } + ["*"] }

    /// A path under `data.`, as ``FieldPath`` reads it.
    static let pathPattern = #"^data(\.[^.]+)+$"#

    /// The schema of one value kind, with its description.
    static func schema(_ value: ConfigKey.Value, description: String) -> JSONObject {
        var object: JSONObject
        let pattern = { (text: String) -> JSONValue in .object(JSONObject(["type": .string("string"), "pattern": .string(text)])) }
        switch value {
        case .string:
            object = JSONObject(["type": .array(["string", "number", "boolean"].map(JSONValue.string))])
        case .name:
            object = JSONObject(["type": .array(["string", "number"].map(JSONValue.string)), "pattern": .string(PipelineLoader.namePattern)])
        case .duration(let maximum):
            object = duration
            object["description"] = .string(description + " At most \(maximum.configDescription).")
            return object
        case .durations(let maximum, let count):
            let item = duration
            object = JSONObject([
                "type": .string("array"), "minItems": .number(JSONNumber(1)), "maxItems": .number(JSONNumber(Int64(count))),
                "items": .object(item),
            ])
            object["description"] = .string(description + " Each at most \(maximum.configDescription).")
            return object
        case .integer(let range):
            object = withVariables(JSONObject([
                "type": .string("integer"), "minimum": .number(JSONNumber(Int64(range.lowerBound))),
                "maximum": .number(JSONNumber(Int64(range.upperBound))),
            ]))
        case .boolean:
            object = withVariables(JSONObject(["type": .string("boolean")]))
        case .percentage:
            object = JSONObject(["anyOf": .array([
                .object(["type": .string("number"), "minimum": .number(JSONNumber(0)), "maximum": .number(JSONNumber(100))]),
                pattern(#"^[0-9]+(\.[0-9]+)?%?$"#), variable,
            ])])
        case .oneOf(let words):
            object = JSONObject(["enum": .array(words.map(JSONValue.string))])
        case .strings:
            object = JSONObject(["anyOf": .array([.object(["type": .string("string")]), .object(["type": .string("array"), "items": .object(["type": .string("string")])])])])
        case .eventPatterns:
            let item = JSONValue.object(["enum": .array(eventPatterns.map(JSONValue.string))])
            object = JSONObject(["anyOf": .array([item, .object(["type": .string("array"), "minItems": .number(JSONNumber(1)), "items": item])])])
        case .paths:
            let item = pattern(pathPattern)
            object = JSONObject(["anyOf": .array([item, .object(["type": .string("array"), "minItems": .number(JSONNumber(1)), "items": item])])])
        case .pathMap:
            object = JSONObject([
                "type": .string("object"), "propertyNames": .object(["pattern": .string(pathPattern)]), "additionalProperties": pattern(pathPattern),
            ])
        case .valueMap:
            object = JSONObject(["type": .string("object"), "propertyNames": .object(["pattern": .string(pathPattern)])])
        case .stringMap:
            object = JSONObject(["type": .string("object"), "additionalProperties": .object(["type": .array(["string", "number", "boolean"].map(JSONValue.string))])])
        case .rate:
            let rate = pattern(RateLimit.pattern)
            object = JSONObject(["anyOf": .array([rate, variable, .object(closed(PipelineKeys.rateLimit))])])
        case .any:
            object = JSONObject()
        case .mapping(let keys):
            object = closed(keys)
        case .switchedMapping(let keys):
            object = JSONObject(["anyOf": .array([.object(withVariables(JSONObject(["type": .string("boolean")]))), .object(closed(keys))])])
        case .reference(let name):
            object = JSONObject(["$ref": .string("#/$defs/\(name)")])
        }
        if !description.isEmpty { object["description"] = .string(description) }
        return object
    }
}
