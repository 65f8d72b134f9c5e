// Passkeys on the hosted pages: the one script they load (CSP script-src 'self', see src/http/csp.ts).
// A form marked data-passkey="get" or "create" carries the WebAuthn options the server made for this
// page (data-options, JSON with base64url fields); the script asks the browser for the credential and
// posts the answer (JSON, in the hidden field "response") with the form's anti-CSRF token. Without
// JavaScript or WebAuthn the forms stay hidden and every other way of signing in works as before.
// data-conditional="true": the browser may offer the passkey in the username field's autofill.
(() => {
  'use strict';
  const decode = (text) => {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  };
  const encode = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const descriptors = (list) => (list || []).map((c) => ({ ...c, id: decode(c.id) }));
  const requestOptions = (o) => ({ ...o, challenge: decode(o.challenge), allowCredentials: descriptors(o.allowCredentials) });
  const creationOptions = (o) => ({ ...o, challenge: decode(o.challenge), user: { ...o.user, id: decode(o.user.id) }, excludeCredentials: descriptors(o.excludeCredentials) });

  const answer = (credential) => {
    const r = credential.response;
    const out = {
      id: credential.id,
      rawId: encode(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: encode(r.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
      out.response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      if (r.userHandle) out.response.userHandle = encode(r.userHandle);
    }
    return out;
  };

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    if (!window.PublicKeyCredential || !navigator.credentials) continue;
    const mode = form.dataset.passkey;
    const options = JSON.parse(form.dataset.options || '{}');
    const error = form.querySelector('[data-passkey-error]');
    let pending = null;
    form.hidden = false;

    const run = async (mediation) => {
      if (pending) pending.abort();
      const controller = new AbortController();
      pending = controller;
      const credential =
        mode === 'create'
          ? await navigator.credentials.create({ publicKey: creationOptions(options), signal: controller.signal })
          : await navigator.credentials.get({ publicKey: requestOptions(options), signal: controller.signal, ...(mediation ? { mediation } : {}) });
      if (!credential) return;
      form.elements.response.value = JSON.stringify(answer(credential));
      form.submit();
    };
    const fail = (err) => {
      if (err && err.name === 'AbortError') return;
      if (!error) return;
      error.textContent = error.dataset.text || 'The passkey could not be used.';
      error.setAttribute('role', 'alert');
      error.hidden = false;
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      run(null).catch(fail);
    });
    if (form.dataset.conditional === 'true' && typeof PublicKeyCredential.isConditionalMediationAvailable === 'function') {
      PublicKeyCredential.isConditionalMediationAvailable()
        .then((available) => (available ? run('conditional') : undefined))
        .catch(() => {});
    }
  }
})();
