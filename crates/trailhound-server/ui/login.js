'use strict';
// The login page: sends the token once; the server answers with an HttpOnly session cookie.
document.getElementById('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('login-error');
  error.textContent = '';
  const token = document.getElementById('token').value;
  try {
    const response = await fetch('/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-trailhound-csrf': '1' },
      body: JSON.stringify({ token }),
    });
    if (response.ok) {
      window.location.assign('/');
    } else {
      error.textContent = 'Wrong access token.';
    }
  } catch (e) {
    error.textContent = 'The server did not answer: ' + e;
  }
});
