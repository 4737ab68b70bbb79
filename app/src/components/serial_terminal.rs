//! A VM's interactive serial console: xterm.js in the page, a WebSocket to the server's
//! `/vms/{id}/console/ws` (which relays it to the VM's host agent and QEMU).
//!
//! xterm.js (`@xterm/xterm`, copied into `target/site/pkg/xterm/` by `scripts/build.sh`) is loaded
//! by a `<script>` this component renders, so only the VM page loads it. Until the browser has
//! hydrated the page and loaded the script, the page shows the console's last lines (rendered on
//! the server) instead; they are also written into the terminal before the live output.

use leptos::prelude::*;

/// The terminal, its status line and, for viewers, the read-only notice.
#[component]
pub fn SerialTerminal(
    /// The VM.
    vm_id: String,
    /// Whether what is typed reaches the guest (owners and members).
    may_type: bool,
    /// The console's last lines, written first.
    backlog: Vec<String>,
    /// Set once the terminal is live, so that the page can hide its plain copy of the lines.
    set_live: WriteSignal<bool>,
) -> impl IntoView {
    let host = NodeRef::<leptos::html::Div>::new();
    let (loaded, set_loaded) = signal(false);
    let (status, set_status) = signal("The live console starts once the page has loaded.".to_owned());
    let (closed, set_closed) = signal(false);
    start(
        vm_id, may_type, backlog, host, loaded, set_status, set_live, set_closed,
    );
    let reconnect = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().location().reload();
        }
    };
    view! {
        <link rel="stylesheet" href="/pkg/xterm/xterm.css" />
        <script src="/pkg/xterm/xterm.js" on:load=move |_| set_loaded.set(true)></script>
        {(!may_type).then(|| view! {
            <p class="alert alert-info" role="note">
                "Read-only: viewers and support staff see the console live but cannot type into it."
            </p>
        })}
        <div class="terminal" node_ref=host role="group" aria-label="Serial console terminal"
            aria-describedby="terminal-status"></div>
        <p class="terminal-status" id="terminal-status" role="status" aria-live="polite">
            {status}
            // Rendered only once the console closed (`hidden` would lose to the button's display).
            {move || closed.get().then(|| view! {
                " "
                <button type="button" class="button button-secondary" on:click=reconnect>"Reconnect"</button>
            })}
        </p>
    }
}

/// Opens the terminal and its WebSocket once the page is hydrated and xterm.js is loaded (in
/// the browser only); closes both when the page goes.
#[expect(clippy::too_many_arguments, reason = "the component's signals, passed once")]
fn start(
    vm_id: String,
    may_type: bool,
    backlog: Vec<String>,
    host: NodeRef<leptos::html::Div>,
    loaded: ReadSignal<bool>,
    set_status: WriteSignal<String>,
    set_live: WriteSignal<bool>,
    set_closed: WriteSignal<bool>,
) {
    #[cfg(feature = "hydrate")]
    {
        let session = StoredValue::new_local(None::<xterm::Session>);
        Effect::new(move |_| {
            // Either the script loaded after hydration (its load event), or before it.
            let ready = loaded.get() || xterm::available();
            let Some(element) = host.get() else {
                return;
            };
            if !ready || session.with_value(Option::is_some) {
                return;
            }
            let signals = xterm::Signals {
                status: set_status,
                live: set_live,
                closed: set_closed,
            };
            match xterm::Session::open(&element, &vm_id, may_type, &backlog, signals) {
                Ok(opened) => session.set_value(Some(opened)),
                Err(error) => set_status.set(format!("The terminal could not start: {error}")),
            }
        });
        on_cleanup(move || {
            session.update_value(|session| {
                if let Some(session) = session.take() {
                    session.close();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (
        vm_id, may_type, backlog, host, loaded, set_status, set_live, set_closed,
    );
}

#[cfg(feature = "hydrate")]
mod xterm {
    //! Bindings to the few parts of xterm.js used, and the WebSocket between it and the server.

    use leptos::prelude::{Set as _, WriteSignal, window};
    use wasm_bindgen::prelude::*;
    use web_sys::js_sys;

    #[wasm_bindgen]
    extern "C" {
        /// xterm.js' `Terminal` (the global its UMD build defines).
        #[wasm_bindgen(js_name = Terminal)]
        #[derive(Clone, Debug)]
        type XTerm;
        #[wasm_bindgen(constructor, js_class = "Terminal", catch)]
        fn new(options: &JsValue) -> Result<XTerm, JsValue>;
        #[wasm_bindgen(method)]
        fn open(this: &XTerm, parent: &web_sys::HtmlElement);
        #[wasm_bindgen(method, js_name = write)]
        fn write_bytes(this: &XTerm, data: &js_sys::Uint8Array);
        #[wasm_bindgen(method, js_name = write)]
        fn write_text(this: &XTerm, data: &str);
        #[wasm_bindgen(method, js_name = onData)]
        fn on_data(this: &XTerm, listener: &js_sys::Function) -> JsValue;
        #[wasm_bindgen(method)]
        fn dispose(this: &XTerm);
    }

    /// Whether xterm.js is loaded.
    pub fn available() -> bool {
        js_sys::Reflect::get(&window(), &JsValue::from_str("Terminal")).is_ok_and(|t| t.is_function())
    }

    /// Where the session reports to the page.
    pub struct Signals {
        pub status: WriteSignal<String>,
        pub live: WriteSignal<bool>,
        pub closed: WriteSignal<bool>,
    }

    /// An open terminal and its WebSocket, with the callbacks they hold.
    pub struct Session {
        terminal: XTerm,
        socket: web_sys::WebSocket,
        _callbacks: Vec<Box<dyn std::any::Any>>,
    }

    impl Session {
        pub fn open(
            parent: &web_sys::HtmlElement,
            vm_id: &str,
            may_type: bool,
            backlog: &[String],
            signals: Signals,
        ) -> Result<Self, String> {
            let options = js_sys::Object::new();
            let set = |key: &str, value: JsValue| {
                let _ = js_sys::Reflect::set(&options, &JsValue::from_str(key), &value);
            };
            set("cursorBlink", JsValue::TRUE);
            set("scrollback", JsValue::from_f64(5000.0));
            set("rows", JsValue::from_f64(30.0));
            set(
                "fontFamily",
                JsValue::from_str("ui-monospace, SFMono-Regular, Menlo, monospace"),
            );
            // A viewer's keys go nowhere: the terminal takes none.
            set("disableStdin", JsValue::from_bool(!may_type));
            let terminal = XTerm::new(&options).map_err(|e| format!("{e:?}"))?;
            terminal.open(parent);
            // xterm.js types into a hidden text area: name it for screen readers.
            if let Ok(Some(input)) = parent.query_selector("textarea") {
                let label = if may_type {
                    "Serial console input"
                } else {
                    "Serial console (read-only)"
                };
                let _ = input.set_attribute("aria-label", label);
            }
            for line in backlog {
                terminal.write_text(line);
                terminal.write_text("\r\n");
            }

            let location = window().location();
            let scheme = match location.protocol().as_deref() {
                Ok("https:") => "wss",
                _ => "ws",
            };
            let host = location.host().map_err(|e| format!("{e:?}"))?;
            let url = format!("{scheme}://{host}/vms/{vm_id}/console/ws");
            let socket = web_sys::WebSocket::new(&url).map_err(|e| format!("{e:?}"))?;
            socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
            signals.status.set("Connecting to the VM's console…".to_owned());

            let mut callbacks: Vec<Box<dyn std::any::Any>> = Vec::new();
            let status = signals.status;
            let on_open = Closure::<dyn FnMut()>::new(move || {
                status.set(if may_type {
                    "Connected: the guest's output appears live; click the terminal to type.".to_owned()
                } else {
                    "Connected: the guest's output appears live (read-only).".to_owned()
                });
                signals.live.set(true);
            });
            socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            callbacks.push(Box::new(on_open));

            let output = terminal.clone();
            let on_message =
                Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                    let data = event.data();
                    if let Some(text) = data.as_string() {
                        output.write_text(&text);
                    } else {
                        output.write_bytes(&js_sys::Uint8Array::new(&data));
                    }
                });
            socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            callbacks.push(Box::new(on_message));

            let closed = signals.closed;
            let on_close =
                Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |event: web_sys::CloseEvent| {
                    let reason = event.reason();
                    status.set(if reason.is_empty() {
                        "Disconnected from the VM's console.".to_owned()
                    } else {
                        format!("Disconnected: {reason}")
                    });
                    closed.set(true);
                });
            socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            callbacks.push(Box::new(on_close));

            if may_type {
                let input = socket.clone();
                let on_data = Closure::<dyn FnMut(String)>::new(move |typed: String| {
                    if input.ready_state() == web_sys::WebSocket::OPEN {
                        let _ = input.send_with_u8_array(typed.as_bytes());
                    }
                });
                terminal.on_data(on_data.as_ref().unchecked_ref());
                callbacks.push(Box::new(on_data));
            }
            Ok(Self {
                terminal,
                socket,
                _callbacks: callbacks,
            })
        }

        /// Closes the WebSocket and removes the terminal.
        pub fn close(self) {
            // No callback may run once they are dropped with the session.
            self.socket.set_onopen(None);
            self.socket.set_onmessage(None);
            self.socket.set_onclose(None);
            let _ = self.socket.close();
            self.terminal.dispose();
        }
    }
}
