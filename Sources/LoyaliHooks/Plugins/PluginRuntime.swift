import Dispatch
import Synchronization

/// Starts and stops the plugin processes a set of pipelines uses.
///
/// Loading pipelines never starts a process. The commands start them right after loading, so a
/// plugin that cannot start is a config-time error at the line that names it, with its stderr:
/// `run --dry-run` starts transform plugins only (a dry run never calls a sink plugin); `validate`
/// and a real `run` start sink plugins too (`validate` stops them once they answered ready).
public enum PluginRuntime {
    /// One plugin use in a pipeline file.
    struct Use {
        var supervisor: PluginSupervisor
        var location: SourceLocation
        var excerpt: SourceExcerpt?
    }

    /// The plugin steps (and, with `includingSinks`, plugin sinks) of `pipelines`.
    static func uses(in pipelines: [PipelineDefinition], includingSinks: Bool) -> [Use] {
        var uses: [Use] = []
        for pipeline in pipelines {
            for case let step as PluginTransformStep in pipeline.steps {
                uses.append(Use(supervisor: step.supervisor, location: step.location, excerpt: step.excerpt))
            }
            guard includingSinks else { continue }
            for sink in pipeline.sinks {
                if let plugin = sink.sink as? PluginSink {
                    uses.append(Use(supervisor: plugin.supervisor, location: plugin.location, excerpt: plugin.excerpt))
                }
            }
        }
        return uses
    }

    /// Starts the plugins `pipelines` use, all at once, and waits for each to answer `ready`.
    /// Returns one error per plugin that could not start, at the line naming it, with its stderr.
    /// Plugin stderr lines are logged through `logger`, tagged `plugin=NAME`.
    public static func start(_ pipelines: [PipelineDefinition], includingSinks: Bool, logger: Logger = Logger()) -> [Diagnostic] {
        let uses = uses(in: pipelines, includingSinks: includingSinks)
        let failures = Mutex<[Int: Diagnostic]>([:])
        DispatchQueue.concurrentPerform(iterations: uses.count) { index in
            let use = uses[index]
            do throws(PluginError) {
                try use.supervisor.start(logger: logger)
            } catch {
                let diagnostic = Diagnostic(.error, at: use.location, error.detailedDescription, excerpt: use.excerpt)
                failures.withLock { $0[index] = diagnostic }
            }
        }
        return failures.withLock { found in found.keys.sorted().map { found[$0]! } }
    }

    /// Stops every plugin process `pipelines` started: EOF, then SIGTERM after `grace`, then
    /// SIGKILL. Plugins that never started are left alone.
    public static func shutdown(_ pipelines: [PipelineDefinition], grace: Duration = .seconds(2)) {
        let uses = uses(in: pipelines, includingSinks: true)
        DispatchQueue.concurrentPerform(iterations: uses.count) { index in
            uses[index].supervisor.shutdown(grace: grace)
        }
    }
}
