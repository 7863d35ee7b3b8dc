// Runs jdci's Jenkinsfiles and shared-library steps outside Jenkins, recording every step they call.
// A Jenkinsfile is Groovy: `pipeline { ... }`, `stage('x') { ... }`, `sh '...'` are method calls with closures,
// so a script base class that records unknown calls (and runs their closures) can execute it. Declarative
// `pipeline` is interpreted as Jenkins does in the parts that matter to jdci: stages in order (skipped after a
// failure), `when`, `environment`, and `post` conditions chosen by the build result (always, aborted, failure,
// success, unstable, unsuccessful, cleanup). The library in pipelines/vars/ is loaded for real, so a template's
// `jdci.pr()` runs the library's code and its `sh` commands are recorded too.
//
//   groovy harness.groovy SCENARIOS.json
//   -> one JSON object: {"syntax": [{file, line, message}], "runs": {scenario name -> {calls, result, error,
//      status}}}; every call carries `within`: the enclosing blocks (stage:Build, lock:R, post:aborted, ...).
// A scenario: {name, file, call?: Map (run the file's call(Map) / method?: name), env?: Map, params?: Map,
//              shStatus?: {substring: exit}, abortOn?: substring (that sh is aborted, as a user's abort does),
//              jsonFiles?: {file: value}, files?: [existing file names]}
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.MultipleCompilationErrorsException
import org.codehaus.groovy.control.messages.SyntaxErrorMessage

class Recorder {
    List calls = []
    List within = []
    Map env = [:]
    Map params = [:]
    Map currentBuild = [result: null, currentResult: 'SUCCESS']
    Map shStatus = [:]
    Map jsonFiles = [:]
    Set files = [] as Set
    String abortOn = null
    Map library = [:]  // var name -> its script

    void record(String name, List args) {
        calls << [step: name, args: args.collect { it instanceof Closure ? '{...}' : it }, within: within.clone()]
    }

    def inside(String label, Closure body) {
        within << label
        try { return body.call() } finally { within.remove(within.size() - 1) }
    }
}

/** What Jenkins throws into a step when a user aborts the build (FlowInterruptedException is one). */
class Aborted extends InterruptedException {
    Aborted(String message) { super(message) }
}

/** Collects the sections of a declarative block (`pipeline { agent ...; stages {...}; post {...} }`). */
class Sections {
    Map found = [:]
    List order = []
    def methodMissing(String name, Object argsObject) {
        List args = argsObject as List
        found[name] = args
        order << name
        return null
    }
    def propertyMissing(String name) { return name }
}

abstract class Recording extends Script {
    // Jenkins steps and DSL words the harness records; anything else is a typo (`jdci.prr()`, `archiveArtifact`)
    // and fails the run, as Jenkins would ("No such DSL method")
    static final Set KNOWN_STEPS = [
        'agent', 'label', 'docker', 'dockerfile', 'node', 'options', 'timeout', 'disableConcurrentBuilds',
        'timestamps', 'buildDiscarder', 'logRotator', 'skipDefaultCheckout', 'retry', 'ansiColor', 'triggers',
        'cron', 'pollSCM', 'upstream', 'parameters', 'string', 'booleanParam', 'choice', 'text', 'password',
        'usernamePassword', 'file', 'sshUserPrivateKey', 'archiveArtifacts', 'junit', 'lock', 'legacySCM',
        'library', 'checkout', 'dir', 'input', 'milestone', 'sleep', 'writeFile', 'readFile', 'deleteDir',
        'cleanWs', 'catchError', 'warnError', 'parallel', 'build', 'tools', 'stash', 'unstash', 'withEnv',
    ] as Set

    Recorder rec

    def getEnv() { return rec.env }
    def getParams() { return rec.params }
    def getCurrentBuild() { return rec.currentBuild }

    def methodMissing(String name, Object argsObject) {
        List args = argsObject as List
        if (rec.library.containsKey(name)) {  // a library step called as `jdciPullRequest(...)`
            rec.record(name, args)
            return rec.inside(name) { rec.library[name].invokeMethod('call', args as Object[]) }
        }
        if (!KNOWN_STEPS.contains(name)) {
            throw new MissingMethodException(name, getClass(), argsObject as Object[])
        }
        rec.record(name, args)
        def result = null
        String label = name + (args && args[0] instanceof Map && args[0].resource ? ":${args[0].resource}" : '')
        args.findAll { it instanceof Closure }.each { Closure body ->
            result = rec.inside(label) { runClosure(body) }
        }
        if (name in ['string', 'usernamePassword', 'file', 'sshUserPrivateKey']) {
            return [kind: name] + (args ? args[0] : [:])
        }
        return result
    }

    def runClosure(Closure body, Object delegate = this) {
        Closure copy = body.rehydrate(delegate, this, this)
        copy.resolveStrategy = Closure.DELEGATE_FIRST
        return copy.call()
    }

    def propertyMissing(String name) {
        if (rec.library.containsKey(name)) { return rec.library[name] }
        return name  // `agent any`, `_`, `scm`
    }

    // -- steps with behaviour ----------------------------------------------------------------------------------
    def sh(String script) { return sh(script: script) }
    def sh(Map options) {
        String script = options.script as String
        rec.record('sh', [script])
        if (rec.abortOn && script.contains(rec.abortOn)) {
            throw new Aborted("aborted by the user during: ${script}")
        }
        def hit = rec.shStatus.find { key, value -> script.contains(key as String) }
        int status = hit ? hit.value as int : 0
        if (status != 0 && !options.returnStatus) { throw new RuntimeException("script returned exit code ${status}") }
        return options.returnStatus ? status : (options.returnStdout ? '' : null)
    }
    def echo(String message) { rec.record('echo', [message]) }
    def fileExists(String file) { return rec.files.contains(file) || rec.jsonFiles.containsKey(file) }
    def readJSON(Map options) {
        rec.record('readJSON', [options.file])
        def value = rec.jsonFiles[options.file]
        return value instanceof Map ? new LinkedHashMap(value) : (value ?: [:])
    }
    def error(String message) { rec.record('error', [message]); throw new RuntimeException("error: ${message}") }
    def unstable(String message) {
        rec.record('unstable', [message])
        if (rec.currentBuild.currentResult == 'SUCCESS') { rec.currentBuild.currentResult = 'UNSTABLE' }
    }
    def credentials(String id) { rec.record('credentials', [id]); return "credentials:${id}" }

    def withCredentials(List bindings, Closure body) {
        rec.record('withCredentials', [bindings])
        Map saved = new LinkedHashMap(rec.env)
        bindings.each { Map b ->
            ['variable', 'usernameVariable', 'passwordVariable'].each { key ->
                if (b[key]) { rec.env[b[key]] = "****(${b.credentialsId})" }
            }
        }
        try {
            return rec.inside('withCredentials') { runClosure(body) }
        } finally {
            rec.env.clear()
            rec.env.putAll(saved)
        }
    }

    def stage(String name, Closure body) {
        rec.record('stage', [name])
        return rec.inside("stage:${name}") { runClosure(body) }
    }

    // -- declarative pipeline -----------------------------------------------------------------------------------
    // (helpers are not named after sections: a closure finds a real method of its owner before its delegate's
    // methodMissing, so a `when` method here would run instead of being collected)
    def pipeline(Closure body) {
        rec.record('pipeline', [])
        Sections top = new Sections()
        runClosure(body, top)
        top.order.findAll { !(it in ['stages', 'post', 'environment']) }.each { String section ->
            methodMissing(section, top.found[section] as Object[])
        }
        if (top.found.environment) { applyEnvironment(top.found.environment[0]) }
        Throwable failure = null
        try {
            if (top.found.stages) { runStages(top.found.stages[0]) }
        } catch (Throwable e) {
            failure = e
            rec.currentBuild.currentResult = e instanceof InterruptedException ? 'ABORTED' : 'FAILURE'
        }
        if (top.found.post) { runPost(top.found.post[0], 'pipeline') }
        rec.currentBuild.result = rec.currentBuild.currentResult
        if (failure != null) { throw failure }
    }

    void applyEnvironment(Closure body) {
        Map values = [:]
        runClosure(body, values)
        values.each { key, value -> rec.record('environment', [key, value]) }
        rec.env.putAll(values)
    }

    void runStages(Closure body) {
        Sections list = new Sections() {
            List stages = []
            def stage(String name, Closure c) { stages << [name, c] }
        }
        runClosure(body, list)
        Throwable first = null
        for (stage in list.stages) {  // after a failure the later stages are still listed, as skipped
            try {
                runDeclarativeStage(stage[0] as String, stage[1] as Closure)
            } catch (Throwable e) {
                first = first ?: e
            }
        }
        if (first != null) { throw first }
    }

    void runDeclarativeStage(String name, Closure body) {
        Sections parts = new Sections()
        runClosure(body, parts)
        if (rec.currentBuild.currentResult in ['FAILURE', 'ABORTED']) {
            rec.record('skipped', [name, 'an earlier stage failed'])
            return
        }
        if (parts.found.when && !evaluateWhen(parts.found.when[0])) {
            rec.record('skipped', [name, 'when'])
            return
        }
        rec.record('stage', [name])
        Throwable failure = null
        rec.inside("stage:${name}") {
            try {
                if (parts.found.environment) { applyEnvironment(parts.found.environment[0]) }
                if (parts.found.steps) { runClosure(parts.found.steps[0]) }
                if (parts.found.stages) { runStages(parts.found.stages[0]) }
            } catch (Throwable e) {
                failure = e
                rec.currentBuild.currentResult = e instanceof InterruptedException ? 'ABORTED' : 'FAILURE'
            }
            if (parts.found.post) { runPost(parts.found.post[0], name) }
        }
        if (failure != null) { throw failure }
    }

    boolean evaluateWhen(Closure body) {
        Sections conditions = new Sections()
        runClosure(body, conditions)
        return conditions.order.every { String kind ->
            List args = conditions.found[kind]
            switch (kind) {
                case 'changeRequest': return rec.env.CHANGE_ID != null
                case 'branch': return rec.env.BRANCH_NAME == args[0]
                case 'buildingTag': return rec.env.TAG_NAME != null
                case 'tag': return rec.env.TAG_NAME == args[0]
                case 'expression': return runClosure(args[0] as Closure) as boolean
                default: throw new IllegalArgumentException("the harness does not know the when condition ${kind}")
            }
        }
    }

    void runPost(Closure body, String where) {
        Sections conditions = new Sections()
        runClosure(body, conditions)
        String result = rec.currentBuild.currentResult
        Map applies = [always: true, aborted: result == 'ABORTED', failure: result == 'FAILURE',
                       success: result == 'SUCCESS', unstable: result == 'UNSTABLE',
                       unsuccessful: result != 'SUCCESS', changed: false, fixed: false, regression: false,
                       notBuilt: result == 'NOT_BUILT', cleanup: true]
        // Jenkins' order, whatever the order in the file
        ['always', 'changed', 'fixed', 'regression', 'aborted', 'failure', 'success', 'unstable', 'unsuccessful',
         'notBuilt', 'cleanup'].each { String condition ->
            if (!conditions.found.containsKey(condition) || !applies[condition]) { return }
            rec.record('post', [condition])
            try {
                rec.inside("post:${condition}") { runClosure(conditions.found[condition][0] as Closure) }
            } catch (Throwable e) {
                rec.record('post failed', [condition, e.message])
                rec.currentBuild.currentResult = 'FAILURE'
            }
        }
        conditions.order.findAll { !applies.containsKey(it) }.each {
            throw new IllegalArgumentException("unknown post condition ${it} in ${where}")
        }
    }

    def script(Closure body) { return rec.inside('script') { runClosure(body) } }
}

// -- main ----------------------------------------------------------------------------------------------------
Map spec = new JsonSlurper().parse(new File(args[0])) as Map
CompilerConfiguration config = new CompilerConfiguration()
config.scriptBaseClass = Recording.name
GroovyShell shell = new GroovyShell(this.class.classLoader, new Binding(), config)

// `@Library('jdci') _` loads the shared library in Jenkins; here the library is loaded below, so the line goes
// (replaced by an empty line, so that line numbers in errors stay those of the file)
String source(File file) {
    return file.text.readLines().collect { it.trim().startsWith('@Library') ? '' : it }.join('\n') + '\n'
}

List syntax = []
Map parsed = [:]
(spec.check as List).each { String path ->
    File file = new File(path)
    try {
        parsed[path] = shell.parse(source(file), file.name.replaceAll(/[^A-Za-z0-9_]/, '_'))
    } catch (MultipleCompilationErrorsException e) {
        e.errorCollector.errors.each { message ->
            def cause = message instanceof SyntaxErrorMessage ? message.cause : null
            syntax << [file: path, line: cause?.line ?: 0, column: cause?.startColumn ?: 0,
                       message: (cause?.message ?: message.toString()).readLines()[0]]
        }
    }
}

Script fresh(GroovyShell groovy, File file) {
    return groovy.parse(source(file), file.name.replaceAll(/[^A-Za-z0-9_]/, '_'))
}

Map runs = [:]
(spec.scenarios as List).each { Map scenario ->
    Recorder rec = new Recorder()
    rec.env.putAll(scenario.env ?: [:])
    rec.params.putAll(scenario.params ?: [:])
    rec.shStatus = scenario.shStatus ?: [:]
    rec.jsonFiles = scenario.jsonFiles ?: [:]
    rec.files.addAll(scenario.files ?: [])
    rec.abortOn = scenario.abortOn
    Map entry = [calls: rec.calls]
    try {
        (spec.library as List).each { String path ->
            Recording step = fresh(shell, new File(path)) as Recording
            step.setRec(rec)  // Script.setProperty would put it in the binding instead
            rec.library[new File(path).name.replaceAll(/\.groovy$/, '')] = step
        }
        Recording script = fresh(shell, new File(scenario.file as String)) as Recording
        script.setRec(rec)
        if (scenario.method) {
            entry.result = script.invokeMethod(scenario.method as String, [scenario.call ?: [:]] as Object[])
        } else if (scenario.call != null) {
            entry.result = script.invokeMethod('call', [scenario.call] as Object[])
        } else {
            entry.result = script.run()
        }
    } catch (InterruptedException e) {
        entry.error = e.message
        entry.aborted = true
    } catch (Throwable e) {
        entry.error = e.toString()
        if (System.getenv('HARNESS_DEBUG')) { e.printStackTrace() }
    }
    entry.status = rec.currentBuild.result ?: rec.currentBuild.currentResult
    runs[scenario.name] = entry
}
println JsonOutput.toJson([syntax: syntax, runs: runs])
