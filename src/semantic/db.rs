//! The salsa database behind the semantic layer: ty's type inference over the workspace, its
//! installed packages and typeshed, with open buffers and candidates as source overrides.
//!
//! ty's own project database (`ty_project`) is not published, so this is the small database its
//! test harness shows: files, the operating system, the vendored typeshed, the program's search
//! paths and the rules spackle asks for.

use std::sync::Arc;

use ruff_db::diagnostic::Diagnostic;
use ruff_db::files::{File, Files};
use ruff_db::system::{OsSystem, System};
use ruff_db::vendored::VendoredFileSystem;
use ty_python_core::program::ProgramSettings;
use ty_python_core::{Program, ProgramFile};
use ty_python_semantic::lint::{LintRegistry, RuleSelection};
use ty_python_semantic::{
    check_file_unwrap, default_lint_registry, AnalysisSettings, PythonVersionWithSource,
};

/// The program the database analyses: Python version, platform and search paths.
#[salsa::input(debug)]
pub struct Settings {
    #[returns(ref)]
    pub program: ProgramSettings,
}

/// Interning a program hashes every search path, so it is done once per settings.
#[salsa::tracked(returns(copy))]
fn program(db: &dyn ty_python_core::Db, settings: Settings) -> Program<'_> {
    Program::from_settings(db, settings.program(db))
}

#[salsa::db]
#[derive(Clone)]
pub struct SemanticDb {
    storage: salsa::Storage<Self>,
    files: Files,
    system: OsSystem,
    vendored: VendoredFileSystem,
    /// Always `Some` once [`SemanticDb::new`] returns (the input needs the database to exist).
    settings: Option<Settings>,
    rules: Arc<RuleSelection>,
    analysis: Arc<AnalysisSettings>,
}

impl SemanticDb {
    /// A database over `system` with the program `settings`, reporting only `rules`.
    pub fn new(system: OsSystem, settings: ProgramSettings, rules: RuleSelection) -> SemanticDb {
        let vendored = ty_vendored::file_system().clone();
        let mut db = SemanticDb {
            storage: salsa::Storage::new(None),
            files: Files::default(),
            system,
            vendored,
            settings: None,
            rules: Arc::new(rules),
            analysis: Arc::new(AnalysisSettings::default()),
        };
        settings.search_paths.try_register_static_roots(&db);
        db.settings = Some(Settings::new(&db, settings));
        db
    }

    fn settings(&self) -> Settings {
        self.settings.expect("SemanticDb::new sets the settings")
    }
}

#[salsa::db]
impl ruff_db::Db for SemanticDb {
    fn vendored(&self) -> &VendoredFileSystem {
        &self.vendored
    }

    fn system(&self) -> &dyn System {
        &self.system
    }

    fn files(&self) -> &Files {
        &self.files
    }
}

#[salsa::db]
impl ty_module_resolver::Db for SemanticDb {}

#[salsa::db]
impl ty_python_core::Db for SemanticDb {
    fn should_check_file(&self, file: File) -> bool {
        !file.path(self).is_vendored_path()
    }
}

#[salsa::db]
impl ty_python_semantic::Db for SemanticDb {
    fn check_file(&self, file: File) -> Vec<Diagnostic> {
        check_file_unwrap(self, self.program_file(file))
    }

    fn program_file(&self, file: File) -> ProgramFile<'_> {
        program(self, self.settings()).program_file(self, file)
    }

    fn python_version_with_source(&self, _file: File) -> &PythonVersionWithSource {
        &self.settings().program(self).python_version
    }

    fn rule_selection(&self, _file: File) -> &RuleSelection {
        &self.rules
    }

    fn lint_registry(&self) -> &LintRegistry {
        default_lint_registry()
    }

    fn analysis_settings(&self, _file: File) -> &AnalysisSettings {
        &self.analysis
    }

    fn verbose(&self) -> bool {
        false
    }

    fn is_open_file(&self, _file: File) -> bool {
        false
    }

    fn dyn_clone(&self) -> Box<dyn ty_python_semantic::Db> {
        Box::new(self.clone())
    }
}

#[salsa::db]
impl salsa::Database for SemanticDb {}
