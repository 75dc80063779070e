//! The live view: a new snapshot every interval, drawn with ratatui on crossterm's alternate
//! screen, until `q`, Ctrl-C, a stop signal or a closed terminal.
//!
//! The terminal is put back as it was on every way out: the `Screen` guard's drop on a
//! return (a key, SIGINT, SIGTERM, SIGHUP), and a panic hook that restores it before the panic
//! message is printed, so the message lands on the normal screen in cooked mode. A closed
//! terminal (EIO on a read or a write) is a hang-up: exit 129, as SIGHUP gives. Between two
//! refreshes the program sleeps in `poll(2)` on the terminal and on the stop mechanism's
//! self-pipe, so a key or a signal is seen at once, not at the next refresh.

use std::io::{self, Stdout};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, terminal};
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use ratatui::Frame;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::{Terminal, TerminalOptions, Viewport};
use support::cli::{Failure, terminal_closed};
use support::stop::{Stop, Stopped, check_hang_up};

use crate::snapshot::{self, Options, Snapshot};
use crate::view;

/// The live view's state between frames.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// How many lines the list is scrolled down.
    pub scroll: u16,
    /// How often it refreshes.
    pub interval: Duration,
    /// How long the last snapshot took to take.
    pub took: Duration,
}

/// Draws one frame: a title line, then the snapshot's lines, scrolled.
pub fn draw(frame: &mut Frame<'_>, snapshot: &Snapshot, view: &View) {
    let [title, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(frame.area());
    let text = format!(
        " ipcview (q quits)  {}  every {} ms, took {:.1} ms",
        view::summary(snapshot),
        view.interval.as_millis(),
        view.took.as_secs_f64() * 1000.0
    );
    let bar = Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    frame.render_widget(Paragraph::new(Line::styled(text, bar)).style(bar), title);
    let lines = view::lines(snapshot);
    frame.render_widget(Paragraph::new(lines).scroll((view.scroll, 0)), body);
}

static RAW: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back: leaves the alternate screen, shows the cursor, ends raw mode. Does
/// it once, whoever calls first (the guard, the panic hook); errors are ignored, since the
/// terminal may be gone.
pub fn restore_terminal() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
        let _ = terminal::disable_raw_mode();
    }
}

/// Runs `restore` before the panic hook that was in place: a panic in the live view leaves a
/// usable terminal, and its message shows on it.
pub fn restore_on_panic(restore: fn()) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// The terminal in raw mode on the alternate screen; dropping it puts it back.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn open() -> Result<Screen, Stopped> {
        terminal::enable_raw_mode().map_err(hang_up_or("enable raw mode"))?;
        RAW.store(true, Ordering::SeqCst);
        let opened = Self::open_raw();
        if opened.is_err() {
            restore_terminal(); // no Screen to drop yet
        }
        opened
    }

    fn open_raw() -> Result<Screen, Stopped> {
        // A terminal that says it has no size (a bare pty, a serial line) gets 80 by 24.
        let viewport = match terminal::size() {
            Ok((0, _) | (_, 0)) => Viewport::Fixed(Rect::new(0, 0, 80, 24)),
            _ => Viewport::Fullscreen,
        };
        let backend = CrosstermBackend::new(io::stdout());
        let screen = Screen {
            terminal: Terminal::with_options(backend, TerminalOptions { viewport })
                .map_err(hang_up_or("open the terminal"))?,
        };
        // Not Terminal::clear(), which asks the terminal where the cursor is and waits up to
        // 2 s for the answer: a terminal that never answers (a bare pty) would stall it.
        execute!(
            io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide,
            terminal::Clear(terminal::ClearType::All)
        )
        .map_err(hang_up_or("enter the alternate screen"))?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// An I/O error on the terminal: EIO means it was closed, a hang-up; anything else fails.
fn hang_up_or(what: &'static str) -> impl Fn(io::Error) -> Stopped {
    move |err| match err.raw_os_error().map(nix::errno::Errno::from_raw) {
        Some(errno) if terminal_closed(errno) => Stopped::Signal(Signal::SIGHUP),
        Some(errno) => Stopped::Failed(Failure::new(format!("{what}: {errno}"))),
        None => Stopped::Failed(Failure::new(format!("{what}: {err}"))),
    }
}

/// What a key asks for.
enum Action {
    Quit(ExitCode),
    Scroll(i32),
    Nothing,
}

fn action(event: Event, page: u16) -> Action {
    let Event::Key(key) = event else {
        return Action::Nothing;
    };
    if key.kind == KeyEventKind::Release {
        return Action::Nothing;
    }
    let page = i32::from(page.max(2) - 1);
    match key.code {
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Action::Quit(ExitCode::SUCCESS),
        // Raw mode turns Ctrl-C into a key, not SIGINT: it ends the view as SIGINT would.
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            Action::Quit(support::stop::exit_code_for(Signal::SIGINT))
        }
        KeyCode::Down | KeyCode::Char('j') => Action::Scroll(1),
        KeyCode::Up | KeyCode::Char('k') => Action::Scroll(-1),
        KeyCode::PageDown | KeyCode::Char(' ') => Action::Scroll(page),
        KeyCode::PageUp => Action::Scroll(-page),
        KeyCode::Home => Action::Scroll(i32::MIN / 2),
        KeyCode::End => Action::Scroll(i32::MAX / 2),
        _ => Action::Nothing,
    }
}

/// Runs the live view until a key, a stop signal or a closed terminal ends it.
pub fn run(options: &Options, interval: Duration, stop: &Stop) -> Result<ExitCode, Stopped> {
    let stdin = io::stdin();
    check_hang_up(stdin.as_fd())?;
    use std::io::IsTerminal;
    if !stdin.is_terminal() || !io::stdout().is_terminal() {
        return Err(Failure::new(
            "the live view needs a terminal on stdin and stdout; --once prints one snapshot, \
             --json one as JSON",
        )
        .into());
    }
    restore_on_panic(restore_terminal);
    let mut screen = Screen::open()?;
    let mut view = View {
        interval,
        ..View::default()
    };
    loop {
        let started = Instant::now();
        let snapshot = snapshot::take(options);
        view.took = started.elapsed();
        let total = view::lines(&snapshot).len() as u16;
        let mut page = 1;
        screen
            .terminal
            .draw(|frame| {
                page = frame.area().height.saturating_sub(1);
                view.scroll = view.scroll.min(total.saturating_sub(page));
                draw(frame, &snapshot, &view);
            })
            .map_err(hang_up_or("draw"))?;
        let next = started + interval;
        // Keys until the next refresh; a stop signal ends the wait at once.
        loop {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let ready = stop.wait(&[(stdin.as_fd(), PollFlags::POLLIN)], Some(left))?;
            if !ready.first().copied().unwrap_or(false) {
                continue;
            }
            check_hang_up(stdin.as_fd())?;
            let mut redraw = false;
            while event::poll(Duration::ZERO).map_err(hang_up_or("read a key"))? {
                let event = event::read().map_err(hang_up_or("read a key"))?;
                match action(event, page) {
                    Action::Quit(code) => return Ok(code),
                    Action::Scroll(by) => {
                        let to = (i32::from(view.scroll) + by).clamp(0, i32::from(u16::MAX));
                        view.scroll = to as u16;
                        redraw = true;
                    }
                    Action::Nothing => {}
                }
            }
            if redraw {
                break;
            }
        }
    }
}
