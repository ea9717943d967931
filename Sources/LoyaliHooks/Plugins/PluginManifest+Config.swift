extension PluginManifest {
    /// Checks a pipeline's `config:` for this plugin against the manifest's fields: unknown keys
    /// (with a "did you mean"), missing required keys and wrong types, each reported at its place
    /// in the pipeline file. Returns the config to send with `init`, in manifest order with
    /// defaults filled in, or `nil` after reporting.
    ///
    /// `reference` is the node naming the plugin, where problems without a place of their own
    /// (a missing `config:` altogether) are reported.
    public func checkConfig(_ node: YAMLNode?, reference: YAMLNode, reader: ConfigReader) -> JSONObject? {
        let context = "config of plugin '\(name)'"
        let problemsBefore = reader.problemCount
        var given: ConfigMapping?
        if let node {
            guard case .mapping(let pairs) = node.content else {
                // `config:` with nothing after it is an empty mapping, not a mistake.
                if node.isNull { return checkConfig(nil, reference: reference, reader: reader) }
                reader.error("\(context) must be a mapping, not \(node.kindName)", at: node)
                return nil
            }
            if config.isEmpty, let first = pairs.first {
                reader.error("plugin '\(name)' takes no config; its manifest \(file) declares none", at: first.key)
                return nil
            }
            guard let mapping = reader.mapping(node, allowedKeys: config.map(\.name), in: context) else { return nil }
            given = mapping
        }
        var object = JSONObject()
        for field in config {
            if let valueNode = given?[field.name] {
                if let value = field.value(from: valueNode, reader: reader, what: "config.\(field.name) of plugin '\(name)'") {
                    object.members.append(JSONObject.Member(key: field.name, value: value))
                }
            } else if field.required {
                let about = field.description.isEmpty ? "" : " (\(field.description))"
                reader.error("\(context) is missing required key '\(field.name)'\(about)", at: node ?? reference)
            } else if let value = field.defaultValue {
                object.members.append(JSONObject.Member(key: field.name, value: value))
            }
        }
        return reader.problemCount == problemsBefore ? object : nil
    }
}
