/**
 * jdci's shared-library steps. Load pipelines/ as the global library 'jdci', then in a Jenkinsfile:
 *
 *   jdci.pr()                       // the whole PR pipeline: link, build, preprod, checks, then merge in a lock
 *   jdci.pr(merge: false)           // everything up to the checks and statuses
 *   jdci.link()   jdci.build()   jdci.preprod()   jdci.checks()   jdci.gate()   jdci.merge()   jdci.sweep()
 *   jdci.teardown()                 // remove this PR's environment (post { aborted / failure })
 *   jdci.promote(source: 'acme/shop@sha256:...', tag: 'release-1.4')
 *
 * Options every step takes (all optional):
 *   jdci:        the jdci executable ('jdci')
 *   config:      path of jdci.toml (default: jdci.toml in the workspace)
 *   reports:     the report folder jdci writes ('jdci-reports'), archived with its JUnit XML
 *   credentials: Jenkins credential ids, merged over DEFAULT_CREDENTIALS; an id set to null is not bound
 *   repository:  owner/name, for the merge lock (default: from CHANGE_URL or GIT_URL)
 *
 * Credentials are bound with withCredentials to the variables jdci reads (never files): GITHUB_TOKEN,
 * JIRA_USER/JIRA_TOKEN, REGISTRY_USER/REGISTRY_PASSWORD, JENKINS_USER/JENKINS_TOKEN, SLACK_WEBHOOK_URL.
 * Merges (merge, sweep, the merge part of pr) run inside lock(resource: 'jdci-merge-<owner/repo>') from the
 * Lockable Resources plugin, so agents on many machines keep one writer per repository.
 * Exit codes of jdci: 0 done, 1 said no (-> UNSTABLE), 2 bad config, 3 internal, 4 service down (-> FAILURE),
 * 75 not yet (a merge that waits: not a failure), 130/143 interrupted.
 * Needs: Pipeline Utility Steps (readJSON), JUnit, Credentials Binding, Lockable Resources.
 */
import groovy.transform.Field

@Field static final Map DEFAULT_CREDENTIALS = [
    github  : 'jdci-github-token',       // Secret text -> GITHUB_TOKEN
    jira    : 'jdci-jira',               // Username with password -> JIRA_USER / JIRA_TOKEN
    registry: 'jdci-registry',           // Username with password -> REGISTRY_USER / REGISTRY_PASSWORD
    jenkins : 'jdci-jenkins',            // Username with password -> JENKINS_USER / JENKINS_TOKEN
    slack   : 'jdci-slack-webhook',      // Secret text -> SLACK_WEBHOOK_URL
]

// which credentials each step needs: no step sees more secrets than it uses
@Field static final Map NEEDS = [
    pr      : ['github', 'jira', 'registry', 'jenkins', 'slack'],
    link    : ['github', 'jira'],
    build   : ['github', 'registry'],
    preprod : ['github', 'registry'],
    checks  : ['github', 'jira', 'slack'],
    gate    : ['github', 'jira', 'jenkins'],
    merge   : ['github', 'jira', 'jenkins', 'slack'],
    sweep   : ['github', 'jira', 'jenkins', 'slack'],
    teardown: ['github'],
    promote : ['registry'],
    demo    : [],
]

/** The whole PR pipeline. Returns what `jdci pr --json` printed, plus the merge's answer under "merge". */
Map pr(Map options = [:]) {
    Map result = [:]
    stage('jdci: verify') {
        result = runJdci(options, 'pr', ['pr', '--no-merge'] + changeArgs(options), 'jdci-pr.json',
                         [0, 1])
    }
    if (result.exitCode != 0 || options.get('merge', true) == false) {
        return result
    }
    stage('jdci: merge') {
        Map merged = merge(options + [pr: result.pr, sha: result.sha])
        result.merge = merged.merge ?: [merged: merged.merged, merge_sha: merged.merge_sha]
        result.gate = merged.gate ?: result.gate
    }
    return result
}

/** Find, check and link the JIRA tickets (`jdci link`). */
Map link(Map options = [:]) {
    return runJdci(options, 'link', ['link'] + changeArgs(options), 'jdci-link.json', [0, 1])
}

/** Build and push the PR's image (`jdci image build --push`). */
Map build(Map options = [:]) {
    return runJdci(options, 'build', ['image', 'build', '--push'] + changeArgs(options), 'jdci-build.json', [0])
}

/** Stand up the PR's preprod environment (`jdci env up`); torn down by teardown() on failure or abort. */
Map preprod(Map options = [:]) {
    return runJdci(options, 'preprod', ['env', 'up'] + changeArgs(options), 'jdci-preprod.json', [0])
}

/** Link, build, preprod and checks in one go, publishing statuses, without merging (`jdci pr --no-merge`). */
Map checks(Map options = [:]) {
    return runJdci(options, 'checks', ['pr', '--no-merge'] + changeArgs(options), 'jdci-checks.json', [0, 1])
}

/** Evaluate the merge policy (`jdci gate`): the decision is in the result; 75 (wait) is not a failure. */
Map gate(Map options = [:]) {
    return runJdci(options, 'gate', ['gate'] + changeArgs(options), 'jdci-gate.json', [0, 1, 75])
}

/** Merge the tested head inside the repository's lock (`jdci merge --pr N --sha SHA`); 75 = waits for reviews. */
Map merge(Map options = [:]) {
    List args = ['merge'] + changeArgs(options)
    if (options.sha) { args += ['--sha', options.sha as String] }
    Map result = [:]
    lock(resource: lockName(options)) {
        result = runJdci(options, 'merge', args, 'jdci-merge.json', [0, 1, 75])
    }
    return result
}

/** Every open PR: merge those whose gate passes (a cron job; Jenkins does not rebuild on an approval). */
Map sweep(Map options = [:]) {
    Map result = [:]
    lock(resource: lockName(options)) {
        result = runJdci(options, 'sweep', ['merge', '--sweep'], 'jdci-sweep.json', [0, 75])
    }
    return result
}

/** Remove this PR's environment (idempotent): for post { aborted { } failure { } }. Never fails the build. */
Map teardown(Map options = [:]) {
    def number = options.pr ?: env.CHANGE_ID
    if (!number) {
        echo 'jdci teardown: not a pull-request build (no CHANGE_ID); nothing to remove'
        return [:]
    }
    Map result = [:]
    try {
        result = runJdci(options + [archive: false], 'teardown', ['env', 'down', '--pr', number as String],
                         'jdci-teardown.json', [0])
    } catch (Exception e) {
        echo "jdci teardown: could not remove the environment of PR #${number}: ${e.message}"
    }
    return result
}

/** Point a new tag at an image by digest, no rebuild (`jdci image promote SRC TAG`). */
Map promote(Map options = [:]) {
    if (!options.source || !options.tag) {
        error('jdci.promote: pass source: (image ref or digest) and tag:')
    }
    return runJdci(options, 'promote', ['image', 'promote', options.source as String, options.tag as String],
                   'jdci-promote.json', [0])
}

// -- plumbing ------------------------------------------------------------------------------------------------

/** Run `jdci ARGS --json > OUT` with the step's credentials bound, keep the reports, map the exit code. */
Map runJdci(Map options, String step, List args, String out, List okCodes) {
    List words = []
    for (def word in [options.get('jdci', 'jdci')] + args + ['--json'] + configArgs(options)) {
        words << shellQuote(word as String)  // a loop, not collect { }: CPS methods inside closures misbehave
    }
    String command = words.join(' ')
    int status = 0
    withCredentials(bindings(step, options)) {
        try {
            status = sh(script: "${command} > ${out}", returnStatus: true) as int
        } finally {
            if (options.get('archive', true)) {
                archive(options, out)
            }
        }
    }
    Map result = (fileExists(out) ? readJSON(file: out) : [:]) as Map
    result.exitCode = status
    String why = result.error?.message ?: 'see the console log above'
    if (status == 1 && okCodes.contains(1)) {
        unstable("jdci ${step}: ${why}")
    } else if (!okCodes.contains(status)) {
        error("jdci ${step} failed (exit ${status}): ${why}")
    }
    return result
}

void archive(Map options, String out) {
    String reports = options.get('reports', 'jdci-reports')
    archiveArtifacts artifacts: "${out}, ${reports}/**", allowEmptyArchive: true
    junit testResults: "${reports}/*.xml", allowEmptyResults: true
}

List bindings(String step, Map options) {
    Map ids = DEFAULT_CREDENTIALS + (options.credentials ?: [:])
    List found = []
    for (String kind in NEEDS[step]) {
        String id = ids[kind]
        if (!id) { continue }
        switch (kind) {
            case 'github':
                found << string(credentialsId: id, variable: 'GITHUB_TOKEN'); break
            case 'jira':
                found << usernamePassword(credentialsId: id, usernameVariable: 'JIRA_USER',
                                          passwordVariable: 'JIRA_TOKEN'); break
            case 'registry':
                found << usernamePassword(credentialsId: id, usernameVariable: 'REGISTRY_USER',
                                          passwordVariable: 'REGISTRY_PASSWORD'); break
            case 'jenkins':
                found << usernamePassword(credentialsId: id, usernameVariable: 'JENKINS_USER',
                                          passwordVariable: 'JENKINS_TOKEN'); break
            case 'slack':
                found << string(credentialsId: id, variable: 'SLACK_WEBHOOK_URL'); break
        }
    }
    return found
}

List configArgs(Map options) {
    return options.config ? ['--config', options.config as String] : []
}

List changeArgs(Map options) {
    return options.pr ? ['--pr', options.pr as String] : []
}

/** `jdci-merge-<owner/repo>`: from options.repository, else the PR's URL, else the job's git remote. */
String lockName(Map options) {
    String repository = options.repository ?: repositoryFrom(env.CHANGE_URL) ?: repositoryFrom(env.GIT_URL)
    if (!repository) {
        error('jdci: which repository does this job merge into? pass repository: "owner/name" (CHANGE_URL and '
              + 'GIT_URL are not set)')
    }
    return "jdci-merge-${repository}"
}

/** owner/name from `https://github.com/acme/shop/pull/7`, `https://github.com/acme/shop.git` or
 *  `git@github.com:acme/shop.git` (no Matcher kept in a variable: CPS cannot serialize one). */
String repositoryFrom(String url) {
    if (!url) { return null }
    String path = url.replaceFirst(/\/pull\/\d+\/?$/, '').replaceFirst(/\/+$/, '').replaceFirst(/\.git$/, '')
    List parts = path.tokenize('/:')
    return parts.size() >= 3 ? "${parts[-2]}/${parts[-1]}".toString() : null
}

/** A word for `sh`: as it is when it is plain, else single-quoted (a parameter must never become shell code). */
String shellQuote(String word) {
    if (word ==~ /[A-Za-z0-9@%+=:,.\/_-]+/) { return word }
    return "'" + word.replace("'", "'\"'\"'") + "'"
}
