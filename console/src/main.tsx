import { render } from 'preact';
function App() { return <h1>Hello</h1>; }
render(<App />, document.getElementById('app')!);
